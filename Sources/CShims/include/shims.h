// CShims: the kernel interfaces that `import Glibc` does not expose (epoll, eventfd, timerfd, signalfd,
// accept4, O_DIRECT, preadv2/pwritev2 + RWF_*, block-device ioctls, libaio).
//
// Everything guarded by `__USE_GNU` in headers that the Glibc Swift module already owns (accept4, O_DIRECT,
// preadv2, pthread_setname_np) is wrapped by a real function in shims.c, which is compiled with _GNU_SOURCE;
// a `static inline` here would be parsed in the importer's context, where those declarations are hidden.
#pragma once

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/epoll.h>
#include <libaio.h>

// MARK: - epoll

/// epoll_create1(EPOLL_CLOEXEC).
int cshims_epoll_create(void);
/// op: 0 = EPOLL_CTL_ADD, 1 = EPOLL_CTL_MOD, 2 = EPOLL_CTL_DEL. `data` is stored in epoll_data.u64.
int cshims_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// epoll_wait into a caller-provided array; returns the count or -1/errno.
int cshims_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms);
/// Reads epoll_data.u64 of one event (the struct is packed on x86_64).
uint64_t cshims_epoll_event_data(const struct epoll_event *event);
/// Reads the event mask of one event.
uint32_t cshims_epoll_event_mask(const struct epoll_event *event);
uint32_t cshims_EPOLLIN(void);
uint32_t cshims_EPOLLOUT(void);
uint32_t cshims_EPOLLERR(void);
uint32_t cshims_EPOLLHUP(void);
uint32_t cshims_EPOLLRDHUP(void);

// MARK: - eventfd / timerfd / clocks

/// eventfd(initval, EFD_NONBLOCK | EFD_CLOEXEC).
int cshims_eventfd(unsigned int initval);
/// timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC).
int cshims_timerfd_create(void);
/// Arms the timer at an absolute CLOCK_MONOTONIC deadline in nanoseconds; 0 disarms.
int cshims_timerfd_arm_absolute(int fd, uint64_t deadline_ns);
/// clock_gettime(CLOCK_MONOTONIC) in nanoseconds.
uint64_t cshims_monotonic_ns(void);

// MARK: - signals

/// pthread_sigmask(SIG_BLOCK) for the listed signals in the calling thread (inherited by threads it creates).
int cshims_block_signals(const int *signals, int count);
/// signalfd(-1, {signals}, SFD_NONBLOCK | SFD_CLOEXEC).
int cshims_signalfd(const int *signals, int count);
/// Reads one signalfd_siginfo; returns the signal number, or -1/errno.
int cshims_signalfd_read(int fd);
/// signal(SIGPIPE, SIG_IGN).
void cshims_ignore_sigpipe(void);

// MARK: - sockets

/// socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
int cshims_socket_stream(int domain);
/// accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC).
int cshims_accept4(int fd, struct sockaddr *addr, socklen_t *len);
/// sendmsg(fd, {iov, iovcnt}, MSG_NOSIGNAL).
ssize_t cshims_sendmsg_nosignal(int fd, const struct iovec *iov, int iovcnt);
int cshims_set_reuseaddr(int fd);
int cshims_set_v6only(int fd);
int cshims_set_nodelay(int fd);
/// IOV_MAX.
int cshims_iov_max(void);

// MARK: - files and block devices

/// open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0) | O_NOATIME), without
/// O_NOATIME when it is refused (EPERM: not the owner, no CAP_FOWNER).
int cshims_open_backing(const char *path, int read_only, int direct);
/// ioctl(BLKGETSIZE64).
int cshims_blk_getsize64(int fd, uint64_t *size);
/// ioctl(BLKSSZGET).
int cshims_blk_logical_block_size(int fd, int *size);
/// 1 when st_mode is a block device, 2 when a regular file, 0 otherwise.
int cshims_stat_kind(int fd, uint64_t *size);
/// statx(STATX_DIOALIGN) (Linux 6.1): 1 with the O_DIRECT memory and offset alignment of `fd`'s file, 0 when the
/// kernel or filesystem does not report them, -errno on failure.
int cshims_dio_alignment(int fd, uint32_t *mem_align, uint32_t *offset_align);
/// preadv2/pwritev2 with one buffer. flags: bit 0 = RWF_NOWAIT, bit 1 = RWF_DSYNC.
ssize_t cshims_pread2(int fd, void *buf, size_t len, int64_t offset, int flags);
ssize_t cshims_pwrite2(int fd, const void *buf, size_t len, int64_t offset, int flags);
#define CSHIMS_RW_NOWAIT 1
#define CSHIMS_RW_DSYNC 2
/// fallocate(2) (a GNU extension Glibc does not import); returns 0 or -1/errno. mode: CSHIMS_FALLOC_* bits.
int cshims_fallocate(int fd, int mode, int64_t offset, int64_t len);
#define CSHIMS_FALLOC_KEEP_SIZE 0x01
#define CSHIMS_FALLOC_PUNCH_HOLE 0x02
#define CSHIMS_FALLOC_ZERO_RANGE 0x10

// MARK: - libaio (io_* return -errno, never -1/errno)

int cshims_io_setup(int maxevents, io_context_t *ctx);
int cshims_io_destroy(io_context_t ctx);
int cshims_io_submit(io_context_t ctx, long nr, struct iocb **iocbs);
/// io_getevents with a zero timeout (never blocks).
int cshims_io_getevents_nowait(io_context_t ctx, long max, struct io_event *events);
/// Like cshims_io_getevents_nowait, but reads the completion ring the kernel maps at `ctx` directly (no
/// system call), as fio's userspace_reap does; falls back to io_getevents when the ring header is not the
/// known layout (AIO_RING_MAGIC, no incompatible features). Use one reaping style per context.
int cshims_io_getevents_user(io_context_t ctx, long max, struct io_event *events);
/// Fills an iocb. cmd: 0 = PREAD, 1 = PWRITE, 3 = FDSYNC. rw_flags: CSHIMS_RW_* bits (DSYNC only).
/// resfd >= 0 sets IOCB_FLAG_RESFD. `tag` comes back in io_event.data.
void cshims_io_prep(struct iocb *cb, int cmd, int fd, void *buf, size_t len, int64_t offset,
                    int rw_flags, int resfd, uint64_t tag);
uint64_t cshims_io_event_tag(const struct io_event *event);
/// io_event.res as a signed value: a byte count, or a negative errno.
int64_t cshims_io_event_res(const struct io_event *event);
size_t cshims_iocb_size(void);
size_t cshims_io_event_size(void);

// MARK: - threads

/// Pins the calling thread to the `index`-th CPU (modulo their count) of the CPUs the calling thread may run on
/// (`sched_getaffinity`, so cgroup cpusets and `taskset` are honoured). Returns that CPU's number, or -errno.
int cshims_pin_thread_to_allowed_cpu(int index);
/// Lets the calling thread run on every CPU the main thread may use (worker threads started from a pinned
/// event loop would otherwise inherit its single CPU). Returns 0 or -errno.
int cshims_thread_use_process_cpus(void);

/// pthread_setname_np(pthread_self(), name) (truncated to 15 bytes).
void cshims_set_thread_name(const char *name);
