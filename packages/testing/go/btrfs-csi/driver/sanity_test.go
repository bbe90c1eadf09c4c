package driver

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
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

// TestSanity runs the upstream CSI sanity suite against the driver on a fresh btrfs filesystem.
func TestSanity(t *testing.T) {
	if why := missingForSanity(); why != "" {
		t.Skip(why)
	}
	dir := os.Getenv(workDirEnv)
	if dir == "" {
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

	d, err := New(Config{Root: filepath.Join(mnt, "root"), NodeID: "sanity-node", Version: "test"})
	if err == nil {
		t.Fatal("New accepted a root that does not exist")
	}
	if err := os.Mkdir(filepath.Join(mnt, "root"), 0o700); err != nil {
		t.Fatal(err)
	}
	if d, err = New(Config{Root: filepath.Join(mnt, "root"), NodeID: "sanity-node", Version: "test"}); err != nil {
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

func TestNewRefusesARootOffBtrfs(t *testing.T) {
	dir := t.TempDir()
	if err := checkBtrfs(dir); err == nil {
		t.Skipf("%s is itself on btrfs; the refusal cannot be shown here", dir)
	}
	if _, err := New(Config{Root: dir, NodeID: "n"}); err == nil || !strings.Contains(err.Error(), "not on a btrfs filesystem") {
		t.Fatalf("New on %s: %v, want a not-btrfs error", dir, err)
	}
}
