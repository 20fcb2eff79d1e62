#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shims.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <linux/fs.h>

int cshims_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cshims_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    int cop = op == 0 ? EPOLL_CTL_ADD : (op == 1 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL);
    return epoll_ctl(epfd, cop, fd, &ev);
}

int cshims_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms) {
    return epoll_wait(epfd, events, maxevents, timeout_ms);
}

uint64_t cshims_epoll_event_data(const struct epoll_event *event) { return event->data.u64; }
uint32_t cshims_epoll_event_mask(const struct epoll_event *event) { return event->events; }
uint32_t cshims_EPOLLIN(void) { return EPOLLIN; }
uint32_t cshims_EPOLLOUT(void) { return EPOLLOUT; }
uint32_t cshims_EPOLLERR(void) { return EPOLLERR; }
uint32_t cshims_EPOLLHUP(void) { return EPOLLHUP; }
uint32_t cshims_EPOLLRDHUP(void) { return EPOLLRDHUP; }

int cshims_eventfd(unsigned int initval) { return eventfd(initval, EFD_NONBLOCK | EFD_CLOEXEC); }

int cshims_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int cshims_timerfd_arm_absolute(int fd, uint64_t deadline_ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    spec.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ull);
    spec.it_value.tv_nsec = (long)(deadline_ns % 1000000000ull);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

uint64_t cshims_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) {
        if (sigaddset(set, signals[i]) != 0) return -1;
    }
    return 0;
}

int cshims_block_signals(const int *signals, int count) {
    sigset_t set;
    if (fill_set(&set, signals, count) != 0) return -1;
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) { errno = rc; return -1; }
    return 0;
}

int cshims_signalfd(const int *signals, int count) {
    sigset_t set;
    if (fill_set(&set, signals, count) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int cshims_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n < 0) return -1;
    if ((size_t)n != sizeof info) { errno = EIO; return -1; }
    return (int)info.ssi_signo;
}

void cshims_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

int cshims_socket_stream(int domain) { return socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

int cshims_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

ssize_t cshims_sendmsg_nosignal(int fd, const struct iovec *iov, int iovcnt) {
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)iovcnt;
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

static int set_int_opt(int fd, int level, int name) {
    int one = 1;
    return setsockopt(fd, level, name, &one, sizeof one);
}
int cshims_set_reuseaddr(int fd) { return set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR); }
int cshims_set_v6only(int fd) { return set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY); }
int cshims_set_nodelay(int fd) { return set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY); }
int cshims_iov_max(void) { return IOV_MAX; }

int cshims_open_backing(const char *path, int read_only, int direct) {
    int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
    // O_NOATIME: a LUN's reads must not turn into inode updates (and the atime check costs on every read).
    // open(2): EPERM unless we own the file or hold CAP_FOWNER, so retry without it.
    int fd = open(path, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = open(path, flags);
    return fd;
}

int cshims_blk_getsize64(int fd, uint64_t *size) { return ioctl(fd, BLKGETSIZE64, size); }
int cshims_blk_logical_block_size(int fd, int *size) { return ioctl(fd, BLKSSZGET, size); }

int cshims_stat_kind(int fd, uint64_t *size) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    *size = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode)) return 1;
    if (S_ISREG(st.st_mode)) return 2;
    return 0;
}

int cshims_dio_alignment(int fd, uint32_t *mem_align, uint32_t *offset_align) {
#ifdef STATX_DIOALIGN
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0) return -errno;
    if (!(stx.stx_mask & STATX_DIOALIGN)) return 0;
    *mem_align = stx.stx_dio_mem_align;
    *offset_align = stx.stx_dio_offset_align;
    return 1;
#else
    (void)fd; (void)mem_align; (void)offset_align;
    return 0;
#endif
}

static int rwf(int flags) {
    int r = 0;
    if (flags & CSHIMS_RW_NOWAIT) r |= RWF_NOWAIT;
    if (flags & CSHIMS_RW_DSYNC) r |= RWF_DSYNC;
    return r;
}

ssize_t cshims_pread2(int fd, void *buf, size_t len, int64_t offset, int flags) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    return preadv2(fd, &iov, 1, (off_t)offset, rwf(flags));
}

ssize_t cshims_pwrite2(int fd, const void *buf, size_t len, int64_t offset, int flags) {
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    return pwritev2(fd, &iov, 1, (off_t)offset, rwf(flags));
}

int cshims_io_setup(int maxevents, io_context_t *ctx) { return io_setup(maxevents, ctx); }
int cshims_io_destroy(io_context_t ctx) { return io_destroy(ctx); }
int cshims_io_submit(io_context_t ctx, long nr, struct iocb **iocbs) { return io_submit(ctx, nr, iocbs); }

int cshims_io_getevents_nowait(io_context_t ctx, long max, struct io_event *events) {
    struct timespec zero = { 0, 0 };
    return io_getevents(ctx, 0, max, events, &zero);
}

/* The kernel's completion ring header (fs/aio.c struct aio_ring), mapped read-write into our address space at
 * the io_context_t address. The kernel produces at `tail`; the consumer advances `head` (the kernel reads it
 * back to account free slots). */
struct cshims_aio_ring {
    unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
    struct io_event io_events[];
};
#define CSHIMS_AIO_RING_MAGIC 0xa10a10a1u

int cshims_io_getevents_user(io_context_t ctx, long max, struct io_event *events) {
    struct cshims_aio_ring *ring = (struct cshims_aio_ring *)ctx;
    if (ring == NULL || ring->magic != CSHIMS_AIO_RING_MAGIC || ring->incompat_features != 0 || ring->nr == 0)
        return cshims_io_getevents_nowait(ctx, max, events);
    unsigned nr = ring->nr;
    unsigned head = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);
    unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);  /* pairs with the kernel's smp_wmb */
    if (head >= nr || tail >= nr) return cshims_io_getevents_nowait(ctx, max, events);
    long n = 0;
    while (head != tail && n < max) {
        events[n++] = ring->io_events[head];
        head = head + 1 == nr ? 0 : head + 1;
    }
    if (n > 0) __atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);  /* events copied before the slots are freed */
    return (int)n;
}

void cshims_io_prep(struct iocb *cb, int cmd, int fd, void *buf, size_t len, int64_t offset,
                    int rw_flags, int resfd, uint64_t tag) {
    memset(cb, 0, sizeof *cb);
    switch (cmd) {
    case 0: io_prep_pread(cb, fd, buf, len, (long long)offset); break;
    case 1: io_prep_pwrite(cb, fd, buf, len, (long long)offset); break;
    default: io_prep_fdsync(cb, fd); break;
    }
    cb->aio_rw_flags = rwf(rw_flags & CSHIMS_RW_DSYNC);
    if (resfd >= 0) io_set_eventfd(cb, resfd);
    cb->data = (void *)(uintptr_t)tag;
}

uint64_t cshims_io_event_tag(const struct io_event *event) { return (uint64_t)(uintptr_t)event->data; }
int64_t cshims_io_event_res(const struct io_event *event) { return (int64_t)(long)event->res; }
size_t cshims_iocb_size(void) { return sizeof(struct iocb); }
size_t cshims_io_event_size(void) { return sizeof(struct io_event); }

void cshims_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    pthread_setname_np(pthread_self(), buf);
}

int cshims_fallocate(int fd, int mode, int64_t offset, int64_t len) {
    return fallocate(fd, mode, (off_t)offset, (off_t)len);
}

int cshims_pin_thread_to_allowed_cpu(int index) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -errno;
    int count = CPU_COUNT(&allowed);
    if (count <= 0 || index < 0) return -EINVAL;
    int want = index % count, seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ != want) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0) return -errno;
        return cpu;
    }
    return -EINVAL;
}

int cshims_thread_use_process_cpus(void) {
    cpu_set_t process;
    CPU_ZERO(&process);
    /* The main thread's tid is the pid; event loops pin themselves, the main thread never does. */
    if (sched_getaffinity(getpid(), sizeof process, &process) != 0) return -errno;
    if (sched_setaffinity(0, sizeof process, &process) != 0) return -errno;
    return 0;
}
