#include "CKsqsh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <sqfs/block.h>
#include <sqfs/compressor.h>
#include <sqfs/error.h>

sqfs_inode_generic_t *ksqsh_inode_alloc(size_t payload_bytes)
{
	sqfs_inode_generic_t *inode = calloc(1, sizeof(*inode) + payload_bytes);

	if (inode != NULL)
		inode->payload_bytes_available = payload_bytes;
	return inode;
}

uint32_t *ksqsh_inode_block_sizes(sqfs_inode_generic_t *inode)
{
	return inode->extra;
}

const uint8_t *ksqsh_inode_payload(const sqfs_inode_generic_t *inode)
{
	return (const uint8_t *)inode->extra;
}

size_t ksqsh_inode_block_count(const sqfs_inode_generic_t *inode)
{
	return sqfs_inode_get_file_block_count(inode);
}

const char *ksqsh_tree_node_name(const sqfs_tree_node_t *node)
{
	return (const char *)node->name;
}

const uint8_t *ksqsh_dir_entry_name(const sqfs_dir_entry_t *entry)
{
	return entry->name;
}

void ksqsh_free(void *pointer)
{
	free(pointer);
}

uint32_t ksqsh_dev_encode(uint32_t major, uint32_t minor)
{
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

int ksqsh_block_is_compressed(uint32_t size) { return SQFS_IS_BLOCK_COMPRESSED(size); }
uint32_t ksqsh_block_on_disk_size(uint32_t size) { return SQFS_ON_DISK_BLOCK_SIZE(size); }

typedef struct {
	sqfs_file_t base;
	int fd;
	int writable;
	int last_errno;
	sqfs_u64 size;
} fd_file_t;

static int fail(fd_file_t *file, int err)
{
	file->last_errno = err;
	return SQFS_ERROR_IO;
}

static int fd_read_at(sqfs_file_t *base, sqfs_u64 offset, void *buffer, size_t size)
{
	fd_file_t *file = (fd_file_t *)base;
	uint8_t *out = buffer;

	if (offset >= file->size || size > file->size - offset)
		return SQFS_ERROR_OUT_OF_BOUNDS;

	while (size > 0) {
		ssize_t got = pread(file->fd, out, size, (off_t)offset);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return fail(file, errno);
		}
		if (got == 0)
			return SQFS_ERROR_OUT_OF_BOUNDS;
		out += got;
		offset += (sqfs_u64)got;
		size -= (size_t)got;
	}
	return 0;
}

static int fd_write_at(sqfs_file_t *base, sqfs_u64 offset, const void *buffer, size_t size)
{
	fd_file_t *file = (fd_file_t *)base;
	const uint8_t *in = buffer;

	if (!file->writable)
		return fail(file, EBADF);

	while (size > 0) {
		ssize_t put = pwrite(file->fd, in, size, (off_t)offset);
		if (put < 0) {
			if (errno == EINTR)
				continue;
			return fail(file, errno);
		}
		in += put;
		offset += (sqfs_u64)put;
		size -= (size_t)put;
		if (offset > file->size)
			file->size = offset;
	}
	return 0;
}

static sqfs_u64 fd_get_size(const sqfs_file_t *base)
{
	return ((const fd_file_t *)base)->size;
}

static int fd_truncate(sqfs_file_t *base, sqfs_u64 size)
{
	fd_file_t *file = (fd_file_t *)base;

	if (!file->writable)
		return fail(file, EBADF);
	if (ftruncate(file->fd, (off_t)size) != 0)
		return fail(file, errno);
	file->size = size;
	return 0;
}

static void fd_destroy(sqfs_object_t *base)
{
	free(base);
}

sqfs_file_t *ksqsh_file_from_fd(int fd, int writable)
{
	struct stat st;
	fd_file_t *file;

	if (fstat(fd, &st) != 0)
		return NULL;

	file = calloc(1, sizeof(*file));
	if (file == NULL)
		return NULL;

	file->fd = fd;
	file->writable = writable;
	file->size = (sqfs_u64)st.st_size;
	file->base.read_at = fd_read_at;
	file->base.write_at = fd_write_at;
	file->base.get_size = fd_get_size;
	file->base.truncate = fd_truncate;
	((sqfs_object_t *)file)->destroy = fd_destroy;
	return (sqfs_file_t *)file;
}

int ksqsh_file_last_errno(const sqfs_file_t *base)
{
	return ((const fd_file_t *)base)->last_errno;
}

typedef struct {
	sqfs_compressor_t base;
	sqfs_compressor_t *inner;
	int store_raw;
} never_grow_t;

static void never_grow_get_configuration(const sqfs_compressor_t *base, sqfs_compressor_config_t *cfg)
{
	const never_grow_t *wrapper = (const never_grow_t *)base;
	wrapper->inner->get_configuration(wrapper->inner, cfg);
}

static int never_grow_write_options(sqfs_compressor_t *base, sqfs_file_t *file)
{
	never_grow_t *wrapper = (never_grow_t *)base;
	return wrapper->inner->write_options(wrapper->inner, file);
}

static int never_grow_read_options(sqfs_compressor_t *base, sqfs_file_t *file)
{
	never_grow_t *wrapper = (never_grow_t *)base;
	return wrapper->inner->read_options(wrapper->inner, file);
}

static sqfs_s32 never_grow_do_block(sqfs_compressor_t *base, const sqfs_u8 *in, sqfs_u32 size, sqfs_u8 *out, sqfs_u32 outsize)
{
	never_grow_t *wrapper = (never_grow_t *)base;
	sqfs_s32 ret;

	if (wrapper->store_raw)
		return 0;
	ret = wrapper->inner->do_block(wrapper->inner, in, size, out, outsize);

	return (ret > 0 && (sqfs_u32)ret >= size) ? 0 : ret;
}

static void never_grow_destroy(sqfs_object_t *base)
{
	never_grow_t *wrapper = (never_grow_t *)base;
	sqfs_destroy(wrapper->inner);
	free(wrapper);
}

sqfs_compressor_t *ksqsh_compressor_never_grow(sqfs_compressor_t *inner)
{
	never_grow_t *wrapper = calloc(1, sizeof(*wrapper));

	if (wrapper == NULL)
		return NULL;
	wrapper->inner = inner;
	wrapper->base.get_configuration = never_grow_get_configuration;
	wrapper->base.write_options = never_grow_write_options;
	wrapper->base.read_options = never_grow_read_options;
	wrapper->base.do_block = never_grow_do_block;
	((sqfs_object_t *)wrapper)->destroy = never_grow_destroy;
	return (sqfs_compressor_t *)wrapper;
}

void ksqsh_compressor_store_raw(sqfs_compressor_t *never_grow, int on)
{
	((never_grow_t *)never_grow)->store_raw = on;
}
