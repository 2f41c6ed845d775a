// Package disktest gives tests a real, small file system to fill, for
// what a service does when its disk is full: a tmpfs mounted on a
// temporary directory, and a file that takes all but a given amount of
// its space.
package disktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes on a fresh directory and unmounts it
// when the test ends. It needs root (CAP_SYS_ADMIN): outside CI a test is
// skipped with the reason when mounting is not permitted; in CI (with CI
// set in the environment) it fails.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount tmpfs (needs root): %v: %s", err, out)
		}
		t.Skipf("mount tmpfs not permitted here (needs root), so no real disk-full test: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Free is the space left to unprivileged users on the file system
// holding dir.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// Fill writes the file path until its file system has at most leave bytes
// free, or a write fails (the disk is full). A file system that already
// has no more than leave free is left alone.
func Fill(t testing.TB, path string, leave int64) {
	t.Helper()
	if Free(t, filepath.Dir(path)) <= leave {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		free := Free(t, filepath.Dir(path))
		if free <= leave {
			return
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), free-leave)]); err != nil {
			return
		}
	}
}
