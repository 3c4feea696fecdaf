# The two set-up commands are `make demo` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
export PATH := $(CURDIR)/.venv/bin:$(PATH)
RK_CACHE ?= $(HOME)/.cache/redundant-kube
export RK_CACHE

.PHONY: demo demo-stop test test-fast setup system-packages python control-plane lint test-unit test-integration test-molecule test-vm test-vm-ha-pair test-realnodes

setup: system-packages python

system-packages:
	@scripts/setup-system.sh

python:
	@scripts/setup-python.sh

control-plane: setup
	@tests/cluster/build-binaries.sh >/dev/null

lint: python
	ruff check . && ruff format --check . && ansible-lint --nocolor -q

test: setup control-plane
	@scripts/run-tests.sh

# The inner loop: static, unit (beside static) and integration, without the slow real-node, molecule and VM tiers.
test-fast: setup control-plane
	@scripts/run-tests.sh static unit integration

test-unit: python
	@scripts/run-tests.sh unit

test-integration: setup control-plane
	@scripts/run-tests.sh integration

test-molecule: setup
	@scripts/run-tests.sh molecule

test-vm: setup
	@scripts/run-tests.sh vm

test-realnodes: setup control-plane
	@scripts/run-tests.sh realnodes

# The HA pair's VM scenario (three VMs of its own): not part of test-vm, it alone takes longer than the suite's
# budget leaves on this machine (docs/testing-vm.md).
test-vm-ha-pair: setup
	@tests/vmlab/run.sh ha_pair

# With DEMO_KUBECONFIG (your own cluster) nothing is built: the control plane only without it.
demo: setup $(if $(DEMO_KUBECONFIG),,control-plane)
	@scripts/demo.sh

demo-stop: python
	@.venv/bin/python tests/cluster/local_cluster.py stop --name redundant-kube-demo
