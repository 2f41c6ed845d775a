package app

import "syscall"

type syscallStatfs = syscall.Statfs_t

func statfs(path string, st *syscall.Statfs_t) error { return syscall.Statfs(path, st) }
