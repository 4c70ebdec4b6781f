# SPDX-License-Identifier: GPL-2.0
# Rust ashmem: the patch series, its test kernel and harness. See README.md.

SHELL := /bin/bash
S := scripts

.PHONY: help demo check test bench setup tree patches bisect clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

demo: ## build the patched kernel, boot it, show ashmem at work (ARCH=arm64 [PAGES=16k])
	@$(S)/demo.sh

check: ## the whole test suite: gates; KUnit and selftests on x86_64 (debug, release) and arm64 (4K with 32-bit apps, 16K); ARM64=0 for x86_64 only, UP=1 adds the uniprocessor kernel
	@$(S)/check.sh

test: ## build and boot build/src as it is, without the series gates
	@$(S)/check.sh --no-gates

bench: ## benchmarks on the release kernel, against memfd and the null ioctl
	@$(S)/bench.sh

setup: ## install the Debian packages and bindgen (idempotent)
	@$(S)/setup-host.sh

tree: ## build/src: Debian's base tree with patches/ applied by git am
	@$(S)/setup-host.sh && $(S)/series.sh tree

patches: ## regenerate patches/ and linux/ from the commits in build/src
	@$(S)/series.sh export

bisect: ## build every prefix of the series in its own build folder
	@$(S)/setup-host.sh && $(S)/series.sh tree && $(S)/bisect.sh

clean: ## remove build/ (base tree included; tools in ~/.cache stay)
	rm -rf build
