#include "CSystemShim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/sysmacros.h>

uint32_t ksqsh_dev_major(dev_t dev) { return major(dev); }
uint32_t ksqsh_dev_minor(dev_t dev) { return minor(dev); }

int ksqsh_open_unnamed(const char *directory, mode_t mode)
{
	return open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
}

int ksqsh_link_unnamed(int fd, const char *target)
{
	char proc_path[64];

	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc_path, AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	return linkat(fd, "", AT_FDCWD, target, AT_EMPTY_PATH);
}

void ksqsh_name_this_thread(const char *name)
{
	char truncated[16];

	snprintf(truncated, sizeof(truncated), "%s", name);
	pthread_setname_np(pthread_self(), truncated);
}

int ksqsh_available_cpus(void)
{
	cpu_set_t set;
	int count;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		count = CPU_COUNT(&set);
		if (count > 0)
			return count;
	}
	count = (int)sysconf(_SC_NPROCESSORS_ONLN);
	return count > 0 ? count : 1;
}

off_t ksqsh_seek_data(int fd, off_t offset)
{
	return lseek(fd, offset, SEEK_DATA);
}

int ksqsh_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path)
{
	return posix_spawn_file_actions_addchdir_np(actions, path);
}
