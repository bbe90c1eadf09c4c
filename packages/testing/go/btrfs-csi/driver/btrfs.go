package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// btrfsSuperMagic is BTRFS_SUPER_MAGIC of statfs(2).
const btrfsSuperMagic = 0x9123683E

// checkBtrfs fails unless dir is on a btrfs filesystem: elsewhere `btrfs subvolume` fails only
// at the first CreateVolume, long after the driver reported itself ready.
func checkBtrfs(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if uint32(st.Type) != btrfsSuperMagic {
		return fmt.Errorf("%s is not on a btrfs filesystem (statfs type %#x)", dir, st.Type)
	}
	return nil
}

// runBtrfs runs the btrfs tool with an argument list (never through a shell) and returns its
// combined output in the error.
func runBtrfs(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "btrfs", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("btrfs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func createSubvolume(ctx context.Context, path string) error {
	return runBtrfs(ctx, "subvolume", "create", path)
}

// snapshotSubvolume makes dst a snapshot of src: copy-on-write, so constant time whatever the
// size, and taken at one instant for the whole subvolume.
func snapshotSubvolume(ctx context.Context, src, dst string, readOnly bool) error {
	args := []string{"subvolume", "snapshot"}
	if readOnly {
		args = append(args, "-r")
	}
	return runBtrfs(ctx, append(args, src, dst)...)
}

// deleteSubvolume removes the subvolume at path; a path that is already gone is not an error, so
// that a retried delete succeeds.
func deleteSubvolume(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return runBtrfs(ctx, "subvolume", "delete", path)
}
