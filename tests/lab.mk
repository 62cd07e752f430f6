# tests of the lab room: the Xen test lab (tests/lab/, scripts/lab).
#
# In `make check` (no Xen needed): the guest heartbeat workload measures a
# pause it is put through, the report generator turns a recorded serial
# console into TAP, JUnit XML and JSON (and a hung boot's unfinished plan
# lines into the next boot's plan), the serial watcher stops a boot whose
# console went silent, the parser of the console's LAB-RESULT and LAB-JSON
# lines (labresult.py, which report.py, two-host-combine.py and bench-lab's
# table read them with) types good lines and quotes malformed ones, and
# bench-lab's table comes out right from a recorded run (lab/data/bench-lab).
check_PROGRAMS += lab/lab-guest
lab_lab_guest_SOURCES = lab/lab-guest.c
TESTS += lab/heartbeat-gap.sh lab/report-selftest.sh lab/serial-watch-selftest.sh \
	lab/labresult-selftest.sh lab/bench-table-selftest.sh
EXTRA_DIST += lab/heartbeat-gap.sh lab/report-selftest.sh lab/serial-watch-selftest.sh \
	lab/labresult-selftest.sh lab/bench-table-selftest.sh lab/data/bench-lab \
	lab/build-artefacts.sh \
	lab/build-xen-shadow.sh lab/build-xen-upstream.sh lab/dom0-init lab/domU-init lab/scenarios.sh \
	lab/serial-watch.py lab/report.py lab/labresult.py lab/bench-table.py lab/two-host.sh
# the scheduler-parameter check of option sched_check (sched-params.sh,
# which dom0 runs) against a fake xl
TESTS += lab/sched-params-selftest.sh
EXTRA_DIST += lab/sched-params-selftest.sh lab/sched-params.sh
# the build of an upstream Xen for scripts/lab --xen 4.20|4.22, on a fake
# release tarball (caching, patches, the shadow-paging config, refusals)
TESTS += lab/build-xen-upstream-selftest.sh
EXTRA_DIST += lab/build-xen-upstream-selftest.sh
# the two-host lab's result combiner on recorded consoles (two-host room)
TESTS += lab/two-host-selftest.sh
EXTRA_DIST += lab/two-host-selftest.sh lab/two-host-combine.py
# scripts/lab's refusals of bad --xen, --peer-xen, --xen-image values
TESTS += lab/lab-options-selftest.sh
EXTRA_DIST += lab/lab-options-selftest.sh

# make check-lab: boot Xen 4.17 under QEMU and run the lab's scenarios
# (installs the lab's Debian packages as root). dom0 gets this project's
# files from the .deb in BUILD/deb, which scripts/lab builds with
# scripts/build-deb when it is absent or older than the source. LAB_FLAGS picks scenarios:
# the default is the reliable PV set CI runs; LAB_FLAGS=--full adds
# dirtying, 512 MiB and PVH guests (PVH flaky under TCG, retried once),
# --two-host and --capture-streams more; CI adds --require.
# Exit 77 from scripts/lab (no QEMU/Xen here) is reported as a skip.
LAB_FLAGS = --quick
check-lab:
	cd $(top_builddir) && $(MAKE) $(AM_MAKEFLAGS) all
	@rc=0; $(SHELL) $(top_srcdir)/scripts/lab --build-dir $(abs_top_builddir) $(LAB_FLAGS) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "check-lab: SKIP: QEMU or Xen cannot be had here (see above)"; rc=0; fi; \
	exit $$rc
.PHONY: check-lab
