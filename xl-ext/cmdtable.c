/*
 * cmdtable.c: the commands xl-ext owns, their usage and option help.
 * Scripts grep `xl-ext help`: add new entries, never reword old ones.
 */
#include <stddef.h>

#include "subcommands.h"

const struct xl_ext_cmd xl_ext_cmds[] = {
    { "help", cmd_help,
      "Print this help, or the usage of one command",
      "[COMMAND [SUBCOMMAND...]]",
      "  xl-ext --help, xl-ext -h     the same as xl-ext help\n"
      "  xl-ext COMMAND --help        the same as xl-ext help COMMAND\n" },
    { "version", cmd_version,
      "Print the xenmig version",
      "",
      "  xl-ext --version   the same\n" },

    /* -- stream room commands -- */
    { "stream-dump", cmd_stream_dump,
      "List the headers and records of an xl save file or a libxl/libxc migration stream",
      "[--json] [--pages] [--rewrite OUT] FILE|-",
      "  --json           one JSON object per line (items, then totals)\n"
      "  --pages          also list every pfn and its page type\n"
      "  --rewrite OUT    write every item again through libmig's writer to OUT\n"
      "                   (cmp FILE OUT shows the codec round-trips the input)\n"
      "  A mapped save file (save --format mapped) is checked whole and its\n"
      "  superblock, sections and pfn ranges listed (--pages: every pfn).\n" },

    /* -- cpuid-policy room commands -- */
    { "cpuid-policy", cmd_cpuid_policy,
      "CPU featuresets, named baselines, clusters and the migration pre-flight check",
      "SUBCOMMAND [ARGS...]",
      "  features [--word N]                 Xen 4.17 feature names per featureset word\n"
      "  decode [--hex|--names|--libxl] [--host HOST.json] [--words] FEATURESET\n"
      "                                      hex words, names and count of a featureset\n"
      "  levels [--show NAME]                the named levels (data files) and their sources\n"
      "  corpus [--file FILE] [--host-json NAME]\n"
      "                                      real CPUs of the corpus, or one as a host file\n"
      "  host-dump [-o FILE]                 this host's policies as JSON\n"
      "  cluster baseline [--policy P] [--json] HOST.json...\n"
      "                                      intersection and highest level of the hosts\n"
      "  cluster add CLUSTER.json HOST.json [--name NAME]\n"
      "                                      add a host; refused if it lacks the baseline\n"
      "  cluster pin CLUSTER.json LEVEL      pin the cluster baseline to a named level\n"
      "  cluster show CLUSTER.json           members, baseline, levels\n"
      "  check DOMAIN|CFG --host HOST.json [--cluster CLUSTER.json] [--baseline NAME]\n"
      "                                      0 compatible, 4 missing features (listed)\n"
      "  report [--csv|--json] [--cluster CLUSTER.json] [--host HOST.json]... CFG...\n"
      "                                      domains x hosts table, highest levels\n"
      "  cluster pin-gpu CLUSTER.json GPU-BASELINE\n"
      "                                      pin the cluster's GPU level\n"
      "  (host-dump, check, cluster and report include the GPU levels)\n"
      "  host-dump --ssh [USER@]HOST... [-s SSHCOMMAND] [--timeout S] [--hostname NAME]\n"
      "            [-o FILE|DIR]             other hosts' dumps, through ssh, several at once\n"
      "  cluster create CLUSTER.json [--name NAME] [HOST.json...] [--ssh [USER@]HOST]...\n"
      "                                      a new cluster: the baseline what the hosts share\n"
      "  cluster add CLUSTER.json [HOST.json...] [--ssh [USER@]HOST]... [--relevel [--force]\n"
      "            [--domains DIR]]          several hosts; --relevel lowers the baseline\n"
      "  cluster remove CLUSTER.json NAME... remove members (the baseline stays)\n"
      "  cluster relevel CLUSTER.json [--auto | --to LEVEL] [--domains DIR] [--force]\n"
      "                                      the baseline to what the members share, or a\n"
      "                                      level; exit 4 when recorded domains are left behind\n"
      "  (--ssh runs 'xl-ext cpuid-policy host-dump' there, -s as for migrate; exit 9: some\n"
      "   hosts could not be reached.  create, add, remove, relevel, host-dump take --help)\n" },
    { "create", cmd_create,
      "Create a domain as xl create, levelled to its cpuid_baseline / gpu_baseline",
      "[xl create options] [--dry-run] [--host HOST.json] [--cluster FILE] CFG [KEY=VALUE...]",
      "  -p -F -V -c -e -q -f FILE   as xl create (passed on; so are --quiet,\n"
      "                     --vncviewer, --vncviewer-autopass and\n"
      "                     --ignore-global-affinity-masks; -d is refused)\n"
      "  --dry-run          check and print the xl command instead of running it\n"
      "  --host HOST.json   with --dry-run: the host description to check against\n"
      "                     (default: probe this host)\n"
      "  --cluster FILE     cluster file for cpuid_baseline = \"cluster\"\n"
      "                     (default /etc/xenmig/cluster.json)\n"
      "  exit 4 lists \"missing: FEATURE\" and \"gpu: ...\" lines; 5 without Xen\n" },

    /* -- vGPU room commands -- */
    { "gpu-probe", cmd_gpu_probe,
      "Print this host's GPU facts and levels; check them against a gpu_baseline",
      "[--json] [--levels FILE] [--facts FILE] [--require BASELINE | --config CFG]",
      "  --json             print the facts and levels as JSON (the host-dump GPU object)\n"
      "  --levels FILE      GPU levels file (default: installed gpu-levels)\n"
      "  --facts FILE       derive levels from recorded facts (JSON) instead of probing\n"
      "  --require BASELINE exit 4 unless the host meets it (\"d3d11.0-gl4.1,cuda-8.0\")\n"
      "  --config CFG       exit 4 unless the host meets the gpu_baseline of xl.cfg CFG\n"
      "  --in-process       probe without a child process (debugging drivers)\n" },

    /* -- migration room commands -- */
    { "migrate", cmd_migrate,
      "Migrate a domain (or with --sim a simulated guest) to another host",
      "[options] <Domain> <host>   |   --sim [options] [<DOMAIN-LABEL>] <host>",
      "-h, --help          Print this help.\n"
      "-C <config>         Send <config> instead of config file from creation.\n"
      "-s <sshcommand>     Use <sshcommand> instead of ssh.  String will be passed\n"
      "                    to sh. If empty, run <host> instead of ssh <host> xl-ext\n"
      "                    migrate-receive [-d -e]\n"
      "-e                  Do not wait in the background (on <host>) for the death\n"
      "                    of the domain.\n"
      "--debug             Print huge (!) amount of debug during the migration process.\n"
      "-p                  Do not unpause domain after migrating it.\n"
      "-D                  Preserve the domain id\n"
      "-F, --live          Accepted as xl's (a migration is always live).\n"
      "--streams N         Parallel data streams, 1-64 (default 2).\n"
      "--tracing MODE      Dirty tracing: loose (default, no global pause per\n"
      "                    harvest) or stop (pause all vCPUs per harvest, as Xen).\n"
      "--max-downtime MS   Downtime target in milliseconds (default 300).\n"
      "--policy P          downtime (default: decide rounds from measured dirty and\n"
      "                    link rates) or xen-default (5 rounds or < 50 dirty pages).\n"
      "--on-no-convergence force|abort\n"
      "                    When the target cannot be met: switch over anyway\n"
      "                    (default) or give up with the guest running at the source.\n"
      "--ladder off|RUNGS  Before that, climb the convergence ladder, one rung a\n"
      "                    round, among RUNGS (default compress,widen,throttle):\n"
      "                    compress pages when the link, not the CPU, is the\n"
      "                    bottleneck; widen to more streams (--max-streams);\n"
      "                    throttle the guest's vCPUs to 50, 25, then 10%; restored\n"
      "                    at switchover and on failure.  Each step is a line\n"
      "                    (--json: a \"ladder\" event); the summary says ladder=.\n"
      "--max-streams N     Streams the ladder may widen to (default --streams).\n"
      "--bandwidth RATE    Cap the total rate in bytes/s (e.g. 100M), split over\n"
      "                    the streams with TCP pacing (split anew when the ladder\n"
      "                    widens: the total stays).\n"
      "--per-stream-bandwidth RATE\n"
      "                    Cap each stream at RATE instead (a stream the ladder\n"
      "                    adds too), as a link whose connections are the limit.\n"
      "--timeout MS        Give up when the peer is silent this long (default 30000).\n"
      "--reconnects N      A data stream whose connection is cut or reset comes back\n"
      "                    and resends its unfinished round: up to N tries per round\n"
      "                    (default 3, 0-100; 0: a lost stream fails the migration),\n"
      "                    all within --timeout of the loss.\n"
      "--dry-run           Probe and predict, then stop: the link over the data\n"
      "                    streams, the guest's dirty rate (log-dirty for a second),\n"
      "                    a sample of its pages, the CPUs; print the prediction\n"
      "                    (total, downtime, bytes, rounds, rungs; --json: a\n"
      "                    \"prediction\" event).  The guest runs on here untouched,\n"
      "                    the destination keeps nothing.  Exit 0 when the target\n"
      "                    is predicted to be met, 8 when it would be missed\n"
      "                    (forced above it, or given up).  A guest type with no\n"
      "                    switchover history here gets its fixed cost from a\n"
      "                    probe of this host ($XENMIG_PROBE_REFERENCE_US), kept\n"
      "                    as the type's seed until a migration replaces it.\n"
      "--predict           Probe and predict first, then migrate; the summary sets\n"
      "                    the prediction beside the outcome.\n"
      "--json              One JSON event per line instead of the progress line.\n"
      "--engine E          xenmig (default: PVH, HVM with qemu-xen in dom0 and\n"
      "                    64-bit PV domains by xenmig's engine) or xl (stock\n"
      "                    'xl migrate'; also used for other HVM and 32-bit PV\n"
      "                    domains when no xenmig option is given).\n"
      "--data-host H       Where the data streams connect (default <host>; needed\n"
      "                    with -s when <host> is a command).\n"
      "--no-verify         Skip the full-memory hash comparison at switchover.\n"
      "--no-encrypt        Plain data streams (default: sealed with a fresh key per\n"
      "                    migration, agreed over the control channel).\n"
      "--cipher C          The data streams' cipher: auto (default: AES-256-GCM\n"
      "                    where both hosts have AES-NI, else ChaCha20-Poly1305),\n"
      "                    aes-256-gcm or chacha20-poly1305 (an older destination\n"
      "                    runs aes-256-gcm).  The summary says which ran.\n"
      "--sim               Migrate a simulated guest (no Xen needed).\n"
      "--sim-memory SIZE   Its memory (default 1G).\n"
      "--sim-vcpus N       Its writer threads (default 2).\n"
      "--sim-pattern P     uniform (default), hot, sequential or idle.\n"
      "--sim-rate N        Writes per second per vCPU (default: as fast as it can).\n"
      "--sim-working-set SIZE  Pages the hot pattern writes (default 64M).\n"
      "--sim-fill F        Its memory at the start: zero (default), random\n"
      "                    (incompressible) or realistic (a seeded mix of zero,\n"
      "                    text, binary and random pages, compressing like a\n"
      "                    real guest's).\n"
      "<DOMAIN-LABEL>      With --sim, an optional name for the simulated guest\n"
      "                    before <host> (not used otherwise).\n"
      "--inject-fault FAULT  For xenmig's own tests: break the data path once.\n"
      "                    corrupt-page, cut-stream, tamper-frame, replay-frame,\n"
      "                    truncate, stall, wrong-key, stream-reset,\n"
      "                    stream-reset-rounds, stream-reset-always, version,\n"
      "                    digest-mismatch or cpu-unknown (docs/architecture.md,\n"
      "                    \"Testing hooks and the fault matrix\").\n"
      "\n"
      "Units: sizes (SIZE) are binary: K, M, G, T = KiB, MiB, GiB, TiB; rates (RATE) are\n"
      "decimal, per second: K, M, G = thousands, millions, billions (100M = 100 MB/s).\n"
    },
    { "migrate-receive", cmd_migrate_receive,
      "Receive a migrating domain (run by migrate through ssh or sh)",
      "[options]",
      "-e -d -p -F -r -t -T  As xl migrate-receive.\n"
      "--sim               Receive a simulated guest into this process.\n"
      "--xen               Receive a Xen domain: Xen's xl migrate-receive ($XENMIG_XL)\n"
      "                    restores it from the merged stream, after a CPUID check.\n"
      "--capture FILE      (--xen) Also write the merged xl stream to FILE.\n"
      "--host-json FILE    (--xen) Check against this host description instead of\n"
      "                    probing ($XENMIG_HOST_JSON).\n"
      "--data-listen ADDR  Address to accept the data streams on (default: where\n"
      "                    ssh came in, from $SSH_CONNECTION, else 127.0.0.1).\n"
      "--timeout MS        Give up when the source is silent this long.\n"
      "--sim-max-memory SIZE  Refuse guests larger than SIZE (out of memory; K, M,\n"
      "                    G, T = KiB, MiB, GiB, TiB).\n"
      "--save FILE         Write the received simulated guest to FILE instead\n"
      "                    of running it (used by save --sim).\n"
      "--save-format F     --save's format: xl (default) or mapped (used by save\n"
      "                    --format mapped; with --xen too).\n"
      "--json              JSON summary on stderr.\n" },
    { "save", cmd_save,
      "Save a domain (or with --sim, live, a simulated guest) to a file",
      "[-c|-p] [options] <Domain> <CheckpointFile> [<ConfigFile>]   |   --sim [options] <File>",
      "Saves a running domain live through the xenmig engine: its memory is\n"
      "copied in rounds while it runs (migrate's options: --streams,\n"
      "--tracing, --max-downtime, --ladder ...), it is suspended for the last\n"
      "pages only, and the file (an xl save file: stock 'xl restore' reads it)\n"
      "is renamed into place once complete, verified and flushed.  Then, as\n"
      "xl save, the domain is destroyed; a save that fails leaves it running\n"
      "and an earlier file untouched.\n"
      "-c                  Leave the domain running afterwards (a live checkpoint).\n"
      "-p                  Leave it paused afterwards.\n"
      "--engine xl         Stock 'xl save' (the domain paused throughout).\n"
      "--cipher C          Seal the data streams to the local receiver with C\n"
      "                    (migrate's ciphers).  Default: plain, as they run over\n"
      "                    127.0.0.1 to a child of this command and FILE is plain\n"
      "                    anyway; each still proves the migration's id.\n"
      "--sim [migrate's --sim and stream options]\n"
      "                    Save a simulated guest while it runs: its memory is\n"
      "                    copied live, the file is written and flushed before the\n"
      "                    guest is let go; if it cannot be written (a full disk)\n"
      "                    the guest keeps running.\n"
      "--format xl|mapped  xl: the sequential file (for a simulated guest its own\n"
      "                    format); mapped: every page at a fixed place, written\n"
      "                    by the streams in parallel and overwritten in place by\n"
      "                    later rounds (read by xl-ext restore and convert).\n"
      "                    Default: mapped when --streams N > 1 is given, else xl.\n" },
    { "restore", cmd_restore,
      "Restore a domain from an xl save file, after a CPUID check of this host",
      "[-p] [-e] [-d] [-V] [--host-json FILE] [<ConfigFile>] <CheckpointFile>",
      "Reads the CPU policy the file carries (Xen 4.14 and later) and refuses,\n"
      "exit 4, naming the features, when this host cannot offer the domain\n"
      "every feature it runs with; then runs stock 'xl restore' with xl's\n"
      "options (-p paused, -e no console wait, -d debug, -V vnc viewer).\n"
      "--host-json FILE    Check against this host description instead of\n"
      "                    probing ($XENMIG_HOST_JSON).\n"
      "A mapped save file (save --format mapped) of a domain is checked whole,\n"
      "then read by N threads and fed as one stock stream to 'xl migrate-receive'\n"
      "(-p -e -d as there; CONFIG, -c, -V are refused: convert it first).\n"
      "--streams N         Threads that read a mapped file, 1-64 (default 2).\n"
      "--sim               Restore a simulated guest's save file (either format)\n"
      "                    into this process and print its memory digest.\n"
      "A file cut short or damaged is refused, exit 3, naming the offset;\n"
      "nothing is started.\n" },
    { "convert", cmd_convert,
      "Turn a mapped save file into a sequential one (an xl save file)",
      "--format FORMAT [--streams N] <MappedFile> <OutFile>",
      "--format FORMAT     xl, the one conversion: a domain's mapped file becomes a\n"
      "                    standard xl save file (stock 'xl restore' reads it), a\n"
      "                    simulated guest's its sequential save file.\n"
      "--streams N         Threads that read the mapped file, 1-64 (default 2).\n"
      "OutFile is written beside itself and renamed into place only whole.\n" },
};

const unsigned int xl_ext_cmds_count = sizeof(xl_ext_cmds) / sizeof(xl_ext_cmds[0]);

/*
 * The commands of Xen 4.17's xl (its cmd_table, read from the xl binary of
 * Debian's xen-utils-4.17 4.17.7), in its order: xl-ext hands a command it
 * does not own to xl only when it is one of these, and only on a Xen host.
 * Five of them (create, save, migrate, restore, migrate-receive) are
 * xl-ext's own above; xl's `help` is xl-ext's own too.
 */
const char *const xl_ext_xl_cmds[] = {
    "create", "config-update", "list", "destroy", "shutdown", "reboot", "pci-attach",
    "pci-detach", "pci-list", "pci-assignable-add", "pci-assignable-remove",
    "pci-assignable-list", "pause", "unpause", "console", "vncviewer", "save", "migrate",
    "restore", "migrate-receive", "dump-core", "cd-insert", "cd-eject", "mem-max", "mem-set",
    "button-press", "vcpu-list", "vcpu-pin", "vcpu-set", "vm-list", "info", "sharing",
    "sched-credit", "sched-credit2", "sched-rtds", "domid", "domname", "rename", "trigger",
    "sysrq", "debug-keys", "set-parameters", "dmesg", "top", "network-attach", "network-list",
    "network-detach", "channel-list", "block-attach", "block-list", "block-detach",
    "vtpm-attach", "vtpm-list", "vtpm-detach", "vkb-attach", "vkb-list", "vkb-detach",
    "vdispl-attach", "vdispl-list", "vdispl-detach", "vsnd-attach", "vsnd-list",
    "vsnd-detach", "uptime", "claims", "cpupool-create", "cpupool-list", "cpupool-destroy",
    "cpupool-rename", "cpupool-cpu-add", "cpupool-cpu-remove", "cpupool-migrate",
    "cpupool-numa-split", "getenforce", "setenforce", "loadpolicy", "remus", "devd",
    "psr-hwinfo", "psr-cmt-attach", "psr-cmt-detach", "psr-cmt-show", "psr-cat-set",
    "psr-cat-show", "psr-mba-set", "psr-mba-show", "usbctrl-attach", "usbctrl-detach",
    "usbdev-attach", "usbdev-detach", "usb-list", "qemu-monitor-command",
};

const unsigned int xl_ext_xl_cmds_count = sizeof(xl_ext_xl_cmds) / sizeof(xl_ext_xl_cmds[0]);
