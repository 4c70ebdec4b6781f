// SPDX-License-Identifier: GPL-2.0
/*
 * insn_count.c: a QEMU TCG plugin that counts the guest instructions each
 * translation block executes, and writes "vaddr instructions" lines for
 * every block that ran to the file named by its "out=" argument when QEMU
 * exits. scripts/profile.sh maps them to the kernel's functions.
 *
 * QEMU 7.2 installs no plugin header; the few declarations of its plugin
 * API (version 1) this plugin uses are below.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
enum { CB_NO_REGS };
enum { INLINE_ADD_U64 };

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
	int op, void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

/* Open addressing on the block's start address; each slot's count is
 * what the translated code adds the block's length to. */
#define SLOTS (1u << 22)
struct slot {
	uint64_t vaddr;
	uint64_t insns;
};
static struct slot *slots;
static char out_path[4096];
static int written;

static struct slot *lookup(uint64_t vaddr)
{
	uint64_t h = (vaddr * 0x9E3779B97F4A7C15ull) >> 42;

	for (uint64_t i = 0; i < SLOTS; i++) {
		struct slot *s = &slots[(h + i) & (SLOTS - 1)];

		if (s->vaddr == vaddr || s->vaddr == 0) {
			s->vaddr = vaddr;
			return s;
		}
	}
	fprintf(stderr, "insn_count: table full\n");
	abort();
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct slot *s = lookup(qemu_plugin_tb_vaddr(tb));

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, &s->insns,
						 qemu_plugin_tb_n_insns(tb));
}

__attribute__((destructor)) static void write_counts(void)
{
	FILE *f;

	if (written || !slots)
		return;
	written = 1;
	f = fopen(out_path, "w");
	if (!f) {
		perror(out_path);
		return;
	}
	for (uint64_t i = 0; i < SLOTS; i++)
		if (slots[i].insns)
			fprintf(f, "%016llx %llu\n", (unsigned long long)slots[i].vaddr,
				(unsigned long long)slots[i].insns);
	fclose(f);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			snprintf(out_path, sizeof(out_path), "%s", argv[i] + 4);
	if (!out_path[0]) {
		fprintf(stderr, "insn_count: needs out=FILE\n");
		return -1;
	}
	slots = calloc(SLOTS, sizeof(*slots));
	if (!slots)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	return 0;
}
