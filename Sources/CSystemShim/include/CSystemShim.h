#ifndef KSQSH_SYSTEM_SHIM_H
#define KSQSH_SYSTEM_SHIM_H

#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>

/* What Swift cannot call directly from Glibc: function-like macros, and
   calls that need _GNU_SOURCE, which Swift's Glibc module does not define. */

/* glibc's major()/minor() are function-like macros. */
uint32_t ksqsh_dev_major(dev_t dev);
uint32_t ksqsh_dev_minor(dev_t dev);
/* An unnamed file in `directory` (O_TMPFILE), or -1 with errno set. */
int ksqsh_open_unnamed(const char *directory, mode_t mode);
/* Gives an unnamed file a name: linkat through /proc/self/fd, falling back to
   AT_EMPTY_PATH where /proc is not mounted. 0, or -1 with errno set. */
int ksqsh_link_unnamed(int fd, const char *target);
/* CPUs this process may run on (sched_getaffinity), at least 1. */
int ksqsh_available_cpus(void);
/* Names the calling thread, for top -H and core dumps (at most 15 bytes
   are kept). pthread_setname_np needs _GNU_SOURCE, which Swift lacks. */
void ksqsh_name_this_thread(const char *name);

/* lseek(fd, offset, SEEK_DATA): the next offset holding data, or -1 with
   errno ENXIO when only a hole follows (SEEK_DATA needs _GNU_SOURCE). */
off_t ksqsh_seek_data(int fd, off_t offset);

/* posix_spawn_file_actions_addchdir_np (glibc 2.29, _GNU_SOURCE): the child
   changes to `path` before exec, without a shell. 0, or an errno value. */
int ksqsh_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
