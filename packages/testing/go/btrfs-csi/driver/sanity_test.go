package driver

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// workDirEnv names a directory the caller made (mkdtemp) for the filesystem image and its mounts.
// The vitest runner passes one so that it can undo the mounts and the loop device itself when this
// process dies before its cleanups run (a go test timeout panics past t.Cleanup).
const workDirEnv = "BTRFS_CSI_SANITY_WORKDIR"

// missingForSanity says what the machine lacks for a btrfs filesystem on a loop device, if anything.
func missingForSanity() string {
	if os.Geteuid() != 0 {
		return "not root: mounting a loop device needs root"
	}
	fs, err := os.ReadFile("/proc/filesystems")
	if err != nil || !strings.Contains(string(fs), "\tbtrfs\n") {
		return "the kernel has no btrfs (not in /proc/filesystems)"
	}
	for _, tool := range []string{"mkfs.btrfs", "btrfs", "mount", "umount", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found (Debian: apt-get install btrfs-progs)"
		}
	}
	return ""
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// mountsUnder lists the mount points at or below dir, deepest first (the order to unmount them).
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return len(found[i]) > len(found[j]) })
	return found, sc.Err()
}

// undoMachineChanges unmounts everything under dir and detaches the loop devices of image; every
// step runs even when an earlier one failed, and all failures are reported.
func undoMachineChanges(t *testing.T, dir, image string) {
	mounts, err := mountsUnder(dir)
	if err != nil {
		t.Errorf("reading mounts: %v", err)
	}
	for _, mp := range mounts {
		if out, err := exec.Command("umount", mp).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mp, err, out)
		}
	}
	// mount -o loop sets autoclear, so the device normally went with the unmount; this catches a
	// device whose mount never happened or was lost.
	out, err := exec.Command("losetup", "-j", image).Output()
	if err != nil {
		t.Errorf("losetup -j %s: %v", image, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if dev, _, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(dev, "/dev/loop") {
			if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
				t.Errorf("losetup -d %s: %v: %s", dev, err, out)
			}
		}
	}
}

// btrfsFixture makes a btrfs filesystem in an image file, loop-mounts it, and returns the work
// directory and a driver root on it; the cleanups undo the mounts and the loop device on every path.
func btrfsFixture(t *testing.T) (dir, root string) {
	t.Helper()
	if why := missingForSanity(); why != "" {
		t.Skip(why)
	}
	dir = os.Getenv(workDirEnv)
	if dir != "" {
		// One caller-made directory per go test run, one subdirectory per test.
		var err error
		if dir, err = os.MkdirTemp(dir, "t-"); err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "btrfs-csi-sanity-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Errorf("removing %s: %v", dir, err)
			}
		})
	}
	image := filepath.Join(dir, "fs.img")
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	// Registered before anything is mounted, so a failure half-way still undoes what was done.
	t.Cleanup(func() { undoMachineChanges(t, dir, image) })
	run(t, "truncate", "-s", "512M", image)
	run(t, "mkfs.btrfs", "-q", image)
	run(t, "mount", "-o", "loop", image, mnt)
	return dir, filepath.Join(mnt, "root")
}

// TestSanity runs the upstream CSI sanity suite against the driver on a fresh btrfs filesystem.
func TestSanity(t *testing.T) {
	dir, root := btrfsFixture(t)
	d, err := New(Config{Root: root, NodeID: "sanity-node", Version: "test"})
	if err == nil {
		t.Fatal("New accepted a root that does not exist")
	}
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	if d, err = New(Config{Root: root, NodeID: "sanity-node", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	endpoint := "unix://" + filepath.Join(dir, "csi.sock")
	lis, err := Listen(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	srv := d.Server()
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	cfg := sanity.NewTestConfig()
	cfg.Address = endpoint
	cfg.TargetPath = filepath.Join(dir, "target")
	cfg.StagingPath = filepath.Join(dir, "staging")
	sanity.Test(t, cfg)
}

// TestSnapshotIsOneInstantAndReadOnlyPublishHolds checks what the sanity suite does not look at:
// the content of a snapshot and of its restore, and a read-only publish.
func TestSnapshotIsOneInstantAndReadOnlyPublishHolds(t *testing.T) {
	dir, root := btrfsFixture(t)
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Root: root, NodeID: "n"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mountCap := &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
	caps := []*csi.VolumeCapability{mountCap}
	publish := func(volID, target string, readOnly bool) {
		t.Helper()
		if _, err := d.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: volID, TargetPath: target, VolumeCapability: mountCap, Readonly: readOnly}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = d.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: volID, TargetPath: target})
		})
	}
	src, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "src", VolumeCapabilities: caps})
	if err != nil {
		t.Fatal(err)
	}
	srcTarget := filepath.Join(dir, "src-target")
	publish(src.Volume.VolumeId, srcTarget, false)
	file := filepath.Join(srcTarget, "token")
	if err := os.WriteFile(file, []byte("before"), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap", SourceVolumeId: src.Volume.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Snapshot.ReadyToUse || snap.Snapshot.SizeBytes != src.Volume.CapacityBytes {
		t.Fatalf("snapshot %+v: want ready, size %d", snap.Snapshot, src.Volume.CapacityBytes)
	}
	if err := os.WriteFile(file, []byte("after"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name: "too-small", VolumeCapabilities: caps,
		CapacityRange:       &csi.CapacityRange{RequiredBytes: src.Volume.CapacityBytes - 1},
		VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.Snapshot.SnapshotId}}},
	}); status.Code(err) != codes.OutOfRange {
		t.Fatalf("a restore smaller than its snapshot: %v, want OutOfRange", err)
	}
	restored, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name: "restored", VolumeCapabilities: caps,
		VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.Snapshot.SnapshotId}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	roTarget := filepath.Join(dir, "ro-target")
	publish(restored.Volume.VolumeId, roTarget, true)
	if got, err := os.ReadFile(filepath.Join(roTarget, "token")); err != nil || string(got) != "before" {
		t.Fatalf("restored token: %q, %v; want the snapshot instant's \"before\"", got, err)
	}
	if err := os.WriteFile(filepath.Join(roTarget, "new"), nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("writing through a read-only publish: %v, want EROFS", err)
	}
	if _, err := d.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: restored.Volume.VolumeId, TargetPath: roTarget}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(roTarget); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("target %s after unpublish: %v, want it removed", roTarget, err)
	}
}

func TestNewRefusesARootOffBtrfs(t *testing.T) {
	dir := t.TempDir()
	if err := checkBtrfs(dir); err == nil {
		t.Skipf("%s is itself on btrfs; the refusal cannot be shown here", dir)
	}
	if _, err := New(Config{Root: dir, NodeID: "n"}); err == nil || !strings.Contains(err.Error(), "not on a btrfs filesystem") {
		t.Fatalf("New on %s: %v, want a not-btrfs error", dir, err)
	}
}
