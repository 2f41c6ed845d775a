// Package disktest gives tests a small real file system they can fill up:
// a tmpfs mounted on a temporary directory. Mounting needs CAP_SYS_ADMIN;
// a test that is not run as root re-runs itself in a user and mount
// namespace of its own, where it is root and may mount, so the disk-full
// tests run (never skip) for any user on a Linux with unprivileged user
// namespaces.
//
// Use:
//
//	func TestDiskFull(t *testing.T) {
//		if disktest.Reexec(t) {
//			return // it ran in a namespace of its own; its result is this test's
//		}
//		dir := disktest.Mount(t, 64<<20)
//		disktest.Fill(t, filepath.Join(dir, "filler"), 3<<20) // leave 3 MiB
//		…
//	}
package disktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

// envInside marks the child process that runs the test in its namespace.
const envInside = "AUDITSTREAM_DISKTEST_NAMESPACE"

// Reexec returns false when the process may mount (it is root, or already
// the namespaced child): the test goes on. Otherwise it runs this one test
// again in a new user and mount namespace, waits for it, fails t with the
// child's output if it failed, and returns true: the caller returns.
func Reexec(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() == 0 {
		return false
	}
	if os.Getenv(envInside) != "" {
		t.Fatal("disktest: in the namespace but not root: user namespaces do not map root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envInside+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("disktest: %s in a user namespace (this user may not mount a tmpfs): %v\n%s", t.Name(), err, out)
	}
	t.Logf("disktest: ran in a user and mount namespace of its own:\n%s", out)
	return true
}

// Mount mounts a tmpfs of size bytes on a new directory and unmounts it
// when the test ends. The process must be allowed to mount (see Reexec).
func Mount(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount a tmpfs on %s (call disktest.Reexec first when not root): %v: %s", dir, err, out)
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
