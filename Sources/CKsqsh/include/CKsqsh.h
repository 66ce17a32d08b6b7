#ifndef KSQSH_SHIM_H
#define KSQSH_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sqfs/predef.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/dir_reader.h>
#include <sqfs/dir.h>

/* The inode's flexible `extra[]` array: block sizes of a file, the target of
   a symlink. Swift does not import flexible array members. */
sqfs_inode_generic_t *ksqsh_inode_alloc(size_t payload_bytes);
uint32_t *ksqsh_inode_block_sizes(sqfs_inode_generic_t *inode);
const uint8_t *ksqsh_inode_payload(const sqfs_inode_generic_t *inode);
/* Number of block-size entries of a file inode (0 for other types). */
size_t ksqsh_inode_block_count(const sqfs_inode_generic_t *inode);

/* The name of a node from sqfs_dir_reader_get_full_hierarchy (NUL-terminated). */
const char *ksqsh_tree_node_name(const sqfs_tree_node_t *node);

/* The name of an entry from sqfs_dir_reader_read: `size` + 1 bytes, not NUL-terminated. */
const uint8_t *ksqsh_dir_entry_name(const sqfs_dir_entry_t *entry);

/* free() for memory libsquashfs allocated (inodes, paths). */
void ksqsh_free(void *pointer);

/* The kernel's on-disk device encoding (new_encode_dev), as squashfs stores it. */
uint32_t ksqsh_dev_encode(uint32_t major, uint32_t minor);

/* SQFS_IS_BLOCK_COMPRESSED / SQFS_ON_DISK_BLOCK_SIZE / SQFS_IS_SPARSE_BLOCK. */
int ksqsh_block_is_compressed(uint32_t size);
uint32_t ksqsh_block_on_disk_size(uint32_t size);

/* An sqfs_file_t on a file descriptor the caller owns (destroy does not close
   it). Unlike libsquashfs's own file, it remembers the errno of the last
   failed system call, so "No space left on device" reaches the user. */
sqfs_file_t *ksqsh_file_from_fd(int fd, int writable);
int ksqsh_file_last_errno(const sqfs_file_t *file);

/* Wraps a compressing sqfs_compressor_t so that a block that does not get
   smaller is reported as "store uncompressed" (0). libsquashfs 1.2's lz4
   returns the grown size instead, which unsquashfs 4.5 cannot read back.
   The wrapper owns `inner`. Never wrap a decompressor. */
sqfs_compressor_t *ksqsh_compressor_never_grow(sqfs_compressor_t *inner);

/* While `on`, the never_grow wrapper stores every block uncompressed. */
void ksqsh_compressor_store_raw(sqfs_compressor_t *never_grow, int on);

#endif
