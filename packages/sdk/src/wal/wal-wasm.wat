;; Hand-written WebAssembly for the WAL scanner's hot loop (wal-wasm.ts embeds the binary; rebuild
;; it with wal-wasm-build.mjs after editing this file: see there).
;;
;; Memory layout (the host fills the tables; see wal-wasm.ts):
;;   [0, 16384)        CRC-32C slicing-by-16 tables: table k (k = 0..15) at k * 1024, 256 u32 each;
;;                     table 0 is the plain byte table, table k the effect of a byte k positions back.
;;   [16384, 16392)    results of `walk`: u32 record count, u32 offset of the last accepted record.
;;   [32768, 40960)    a page slot: where the host copies a WAL page `walk` should read.
;;   [65536, 131072)   scratch for `crc` inputs.
;;   [131072, ...)     read buffer: the host may read files straight into it (memory grows once),
;;                     and `walk` then reads pages where they lie.
(module
  (memory (export "memory") 2)

  ;; Raw (not inverted) CRC-32C state `c` continued over `len` bytes at `p`.
  (func $crc_raw (param $p i32) (param $len i32) (param $c i32) (result i32)
    (local $end i32) (local $a i32) (local $b i32) (local $d i32) (local $e i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    ;; 16 bytes a round: four little-endian words, the first xored with the state.
    (block $done16
      (loop $round16
        (br_if $done16 (i32.gt_s (i32.const 16) (i32.sub (local.get $end) (local.get $p))))
        (local.set $a (i32.xor (local.get $c) (i32.load (local.get $p))))
        (local.set $b (i32.load offset=4 (local.get $p)))
        (local.set $d (i32.load offset=8 (local.get $p)))
        (local.set $e (i32.load offset=12 (local.get $p)))
        (local.set $c
          (i32.xor
            (i32.xor
              (i32.xor
                (i32.xor
                  (i32.load offset=15360 (i32.shl (i32.and (local.get $a) (i32.const 255)) (i32.const 2)))
                  (i32.load offset=14336 (i32.and (i32.shr_u (local.get $a) (i32.const 6)) (i32.const 1020))))
                (i32.xor
                  (i32.load offset=13312 (i32.and (i32.shr_u (local.get $a) (i32.const 14)) (i32.const 1020)))
                  (i32.load offset=12288 (i32.shl (i32.shr_u (local.get $a) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor
                  (i32.load offset=11264 (i32.shl (i32.and (local.get $b) (i32.const 255)) (i32.const 2)))
                  (i32.load offset=10240 (i32.and (i32.shr_u (local.get $b) (i32.const 6)) (i32.const 1020))))
                (i32.xor
                  (i32.load offset=9216 (i32.and (i32.shr_u (local.get $b) (i32.const 14)) (i32.const 1020)))
                  (i32.load offset=8192 (i32.shl (i32.shr_u (local.get $b) (i32.const 24)) (i32.const 2))))))
            (i32.xor
              (i32.xor
                (i32.xor
                  (i32.load offset=7168 (i32.shl (i32.and (local.get $d) (i32.const 255)) (i32.const 2)))
                  (i32.load offset=6144 (i32.and (i32.shr_u (local.get $d) (i32.const 6)) (i32.const 1020))))
                (i32.xor
                  (i32.load offset=5120 (i32.and (i32.shr_u (local.get $d) (i32.const 14)) (i32.const 1020)))
                  (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $d) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor
                  (i32.load offset=3072 (i32.shl (i32.and (local.get $e) (i32.const 255)) (i32.const 2)))
                  (i32.load offset=2048 (i32.and (i32.shr_u (local.get $e) (i32.const 6)) (i32.const 1020))))
                (i32.xor
                  (i32.load offset=1024 (i32.and (i32.shr_u (local.get $e) (i32.const 14)) (i32.const 1020)))
                  (i32.load (i32.shl (i32.shr_u (local.get $e) (i32.const 24)) (i32.const 2))))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $round16)))
    ;; The rest: one 8-byte step, one 4-byte step (the first tables are those of slicing-by-8
    ;; and -by-4), then single bytes.
    (if (i32.ge_s (i32.sub (local.get $end) (local.get $p)) (i32.const 8))
      (then
        (local.set $a (i32.xor (local.get $c) (i32.load (local.get $p))))
        (local.set $b (i32.load offset=4 (local.get $p)))
        (local.set $c
          (i32.xor
            (i32.xor
              (i32.xor
                (i32.load offset=7168 (i32.shl (i32.and (local.get $a) (i32.const 255)) (i32.const 2)))
                (i32.load offset=6144 (i32.and (i32.shr_u (local.get $a) (i32.const 6)) (i32.const 1020))))
              (i32.xor
                (i32.load offset=5120 (i32.and (i32.shr_u (local.get $a) (i32.const 14)) (i32.const 1020)))
                (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $a) (i32.const 24)) (i32.const 2)))))
            (i32.xor
              (i32.xor
                (i32.load offset=3072 (i32.shl (i32.and (local.get $b) (i32.const 255)) (i32.const 2)))
                (i32.load offset=2048 (i32.and (i32.shr_u (local.get $b) (i32.const 6)) (i32.const 1020))))
              (i32.xor
                (i32.load offset=1024 (i32.and (i32.shr_u (local.get $b) (i32.const 14)) (i32.const 1020)))
                (i32.load (i32.shl (i32.shr_u (local.get $b) (i32.const 24)) (i32.const 2)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))))
    (if (i32.ge_s (i32.sub (local.get $end) (local.get $p)) (i32.const 4))
      (then
        (local.set $a (i32.xor (local.get $c) (i32.load (local.get $p))))
        (local.set $c
          (i32.xor
            (i32.xor
              (i32.load offset=3072 (i32.shl (i32.and (local.get $a) (i32.const 255)) (i32.const 2)))
              (i32.load offset=2048 (i32.and (i32.shr_u (local.get $a) (i32.const 6)) (i32.const 1020))))
            (i32.xor
              (i32.load offset=1024 (i32.and (i32.shr_u (local.get $a) (i32.const 14)) (i32.const 1020)))
              (i32.load (i32.shl (i32.shr_u (local.get $a) (i32.const 24)) (i32.const 2))))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    ;; At most three bytes left, a byte at a time.
    (block $done1
      (loop $round1
        (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c
          (i32.xor
            (i32.load (i32.shl (i32.and (i32.xor (local.get $c) (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 2)))
            (i32.shr_u (local.get $c) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $round1)))
    (local.get $c))

  ;; CRC-32C in "finished" form, like crc32c(bytes, crc) in crc32c.ts.
  (func (export "crc") (param $p i32) (param $len i32) (param $crc i32) (result i32)
    (i32.xor
      (call $crc_raw (local.get $p) (local.get $len) (i32.xor (local.get $crc) (i32.const -1)))
      (i32.const -1)))

  ;; Walks the records that lie wholly on the page at `page`, from `offset`, checking each one as
  ;; SegmentScanner.walkRecords' fast path does: length, resource manager ID, xl_prev (equal to
  ;; `last` when `has_last`, else below the record's LSN), CRC-32C of data then header. Stops at
  ;; the first record it does not accept -- one that fails a check, crosses the page end, or is an
  ;; XLOG record (resource manager 0, which the host decodes) -- and returns that record's offset
  ;; (or one past the page end). The host re-examines the record there with the full checks and
  ;; messages. Stores the count of accepted records and the offset of the last one at 16384.
  ;; LSNs come as f64 (exact below 2^53, which the host enforces).
  (func (export "walk") (param $page i32) (param $offset i32) (param $page_start f64) (param $last_f f64) (param $has_last i32) (result i32)
    (local $p i32) (local $len i32) (local $rmid i32) (local $lsn i64) (local $last i64) (local $prev i64)
    (local $count i32) (local $last_offset i32) (local $c i32) (local $a i32) (local $b i32) (local $d i32) (local $e i32)
    (local $page_lsn i64)
    (local.set $last (i64.trunc_f64_u (local.get $last_f)))
    (local.set $page_lsn (i64.trunc_f64_u (local.get $page_start)))
    (block $stop
      (loop $record
        (br_if $stop (i32.ge_u (local.get $offset) (i32.const 8192)))
        (local.set $p (i32.add (local.get $page) (local.get $offset)))
        (local.set $len (i32.load (local.get $p)))
        (br_if $stop (i32.lt_u (local.get $len) (i32.const 24)))
        (br_if $stop (i32.gt_u (local.get $len) (i32.sub (i32.const 8192) (local.get $offset))))
        (local.set $rmid (i32.load8_u offset=17 (local.get $p)))
        (br_if $stop (i32.eqz (local.get $rmid)))
        (br_if $stop (i32.and (i32.gt_u (local.get $rmid) (i32.const 63)) (i32.lt_u (local.get $rmid) (i32.const 128))))
        (local.set $lsn (i64.add (local.get $page_lsn) (i64.extend_i32_u (local.get $offset))))
        (local.set $prev (i64.load offset=8 (local.get $p)))
        (if (local.get $has_last)
          (then (br_if $stop (i64.ne (local.get $prev) (local.get $last))))
          (else (br_if $stop (i64.ge_u (local.get $prev) (local.get $lsn)))))
        (local.set $c (call $crc_raw (i32.add (local.get $p) (i32.const 24)) (i32.sub (local.get $len) (i32.const 24)) (i32.const -1)))
        ;; The header's first 20 bytes, inline: one 16-byte round and one 4-byte step.
        (local.set $a (i32.xor (local.get $c) (i32.load (local.get $p))))
        (local.set $b (i32.load offset=4 (local.get $p)))
        (local.set $d (i32.load offset=8 (local.get $p)))
        (local.set $e (i32.load offset=12 (local.get $p)))
        (local.set $c (i32.xor (i32.xor (i32.xor (i32.xor (i32.load offset=15360 (i32.shl (i32.and (local.get $a) (i32.const 255)) (i32.const 2))) (i32.load offset=14336 (i32.and (i32.shr_u (local.get $a) (i32.const 6)) (i32.const 1020)))) (i32.xor (i32.load offset=13312 (i32.and (i32.shr_u (local.get $a) (i32.const 14)) (i32.const 1020))) (i32.load offset=12288 (i32.shl (i32.shr_u (local.get $a) (i32.const 24)) (i32.const 2))))) (i32.xor (i32.xor (i32.load offset=11264 (i32.shl (i32.and (local.get $b) (i32.const 255)) (i32.const 2))) (i32.load offset=10240 (i32.and (i32.shr_u (local.get $b) (i32.const 6)) (i32.const 1020)))) (i32.xor (i32.load offset=9216 (i32.and (i32.shr_u (local.get $b) (i32.const 14)) (i32.const 1020))) (i32.load offset=8192 (i32.shl (i32.shr_u (local.get $b) (i32.const 24)) (i32.const 2)))))) (i32.xor (i32.xor (i32.xor (i32.load offset=7168 (i32.shl (i32.and (local.get $d) (i32.const 255)) (i32.const 2))) (i32.load offset=6144 (i32.and (i32.shr_u (local.get $d) (i32.const 6)) (i32.const 1020)))) (i32.xor (i32.load offset=5120 (i32.and (i32.shr_u (local.get $d) (i32.const 14)) (i32.const 1020))) (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $d) (i32.const 24)) (i32.const 2))))) (i32.xor (i32.xor (i32.load offset=3072 (i32.shl (i32.and (local.get $e) (i32.const 255)) (i32.const 2))) (i32.load offset=2048 (i32.and (i32.shr_u (local.get $e) (i32.const 6)) (i32.const 1020)))) (i32.xor (i32.load offset=1024 (i32.and (i32.shr_u (local.get $e) (i32.const 14)) (i32.const 1020))) (i32.load (i32.shl (i32.shr_u (local.get $e) (i32.const 24)) (i32.const 2))))))))
        (local.set $a (i32.xor (local.get $c) (i32.load offset=16 (local.get $p))))
        (local.set $c (i32.xor (i32.xor (i32.load offset=3072 (i32.shl (i32.and (local.get $a) (i32.const 255)) (i32.const 2))) (i32.load offset=2048 (i32.and (i32.shr_u (local.get $a) (i32.const 6)) (i32.const 1020)))) (i32.xor (i32.load offset=1024 (i32.and (i32.shr_u (local.get $a) (i32.const 14)) (i32.const 1020))) (i32.load (i32.shl (i32.shr_u (local.get $a) (i32.const 24)) (i32.const 2))))))
        (br_if $stop (i32.ne (i32.xor (local.get $c) (i32.const -1)) (i32.load offset=20 (local.get $p))))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (local.set $last_offset (local.get $offset))
        (local.set $last (local.get $lsn))
        (local.set $has_last (i32.const 1))
        (local.set $offset (i32.add (local.get $offset) (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -8))))
        (br $record)))
    (i32.store (i32.const 16384) (local.get $count))
    (i32.store (i32.const 16388) (local.get $last_offset))
    (local.get $offset))
)
