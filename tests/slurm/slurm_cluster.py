"""A real Slurm on this machine for the plugin's end-to-end tests: munged, slurmctld and one slurmd per node, all
from a temporary directory (nothing is written to /etc), with fake NVML GPUs as `gpu` generic resources.

Each node gets GPUS_PER_NODE device files made with mknod (character device 195, N: what /dev/nvidiaN is), listed
in gres.conf; the fake NVML (one shared state file) has all of them, and FAKE_NVML_MINORS numbers them so that NVML
indices differ from device minors, as on real machines: the plugin must go by the device files. Needs root; the
caller skips (exit 77) elsewhere, or fails under CI=true, where these tests must run.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "run"))
import e2e_common  # noqa: E402  (check, fail, near, skip, plain_job)

ORIGINAL_W = 275.0
GPUS_PER_NODE = 2
NOBODY = 65534
DAEMONS = ("munged", "slurmctld", "slurmd", "srun", "sbatch", "scancel", "squeue", "sinfo")


def _die_with_test():
    """Runs in each daemon before exec: the daemon gets SIGTERM when this test process dies, however it dies (a
    ctest timeout kills it without running any cleanup), so no Slurm is ever left behind."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def skip_or_fail(why):
    """Outside CI a missing prerequisite skips; in CI (CI=true, root, Debian 12) these tests must run."""
    if os.environ.get("CI") == "true":
        e2e_common.fail("cannot run the Slurm tests in CI: " + why)
    e2e_common.skip(why)


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def minors_for(n_gpus):
    """NVML index i has minor MINORS[i]: the nodes' halves swapped, so index and minor always differ."""
    half = n_gpus // 2
    return [(i + half) % n_gpus for i in range(n_gpus)]


def no_sanitizer_report(text):
    """The helper writes to the step's error stream: in a sanitizer build its reports land there."""
    e2e_common.check("Sanitizer" not in text and "runtime error:" not in text,
                     "a sanitizer report on the step's error stream:\n" + text)


class Cluster:
    def __init__(self, n_nodes=2, site=None, slurmd_env=None):
        """site(cluster) returns more plugstack.conf arguments, once the cluster's folders exist."""
        for v in ("CHASE_SLURM_PLUGIN", "CHASE_SLURM_HELPER", "CHASE_NVML_LIBRARY", "FAKE_NVML_STATE_TOOL",
                  "CHASE_SOURCE_DIR"):
            if not os.environ.get(v):
                e2e_common.skip("%s is not set (run through ctest)" % v)
        if os.geteuid() != 0:
            skip_or_fail("the Slurm tests need root (they start munged, slurmctld and slurmd)")
        for d in ("munged", "slurmctld", "slurmd", "srun"):
            if not shutil.which(d, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
                skip_or_fail("%s is not installed (Debian: slurmctld slurmd munge slurm-client)" % d)
        self.n_nodes = n_nodes
        self.nodes = ["c%d" % (i + 1) for i in range(n_nodes)]
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="chase-slurm-")
        os.chmod(self.tmp, 0o711)  # the job's user (nobody) reaches the working dir and its progress socket
        self.ok = False
        try:
            self._setup(site, slurmd_env or {})
        except BaseException:
            self.stop()
            raise

    # ---- setup ----

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def _setup(self, site, slurmd_env):
        for d in ("dev", "munge", "etc", "state", "spool", "log", "run", "journal", "work"):
            os.makedirs(self.path(d), exist_ok=True)
        os.chmod(self.path("munge"), 0o711)
        os.chown(self.path("work"), NOBODY, NOBODY)
        self.n_gpus = self.n_nodes * GPUS_PER_NODE
        for m in range(self.n_gpus):
            os.mknod(self.path("dev", "nvidia%d" % m), 0o600 | 0o020000, os.makedev(195, m))
        self.state = self.path("gpus.state")
        self.minors = minors_for(self.n_gpus)
        self.env = dict(os.environ)
        self.env.update({"FAKE_NVML_STATE": self.state, "FAKE_NVML_GPUS": str(self.n_gpus),
                         "FAKE_NVML_MINORS": ",".join(map(str, self.minors)),
                         "SLURM_CONF": self.path("etc", "slurm.conf"),
                         # The test jobs' steps last 30 ms: each is reported (srun passes this on to the tasks).
                         "CHASE_PROGRESS_INTERVAL": "0"})
        for k in ("CHASE_PROGRESS", "SLURM_JOB_ID", "SLURM_JOBID", "SLURM_STEP_ID"):
            self.env.pop(k, None)
        for i in range(self.n_gpus):
            self.tool("--set-limit", str(i), "%g" % ORIGINAL_W)
        os.chmod(self.state, 0o666)  # the fake NVML maps it; a helper running as the user would too
        self._start_munge()
        ports = free_ports(1 + self.n_nodes)
        leader_lo = 20000 + (os.getpid() * 7) % 20000
        self._write_conf(ports, site(self) if site else [], leader_lo)
        log = open(self.path("log", "daemons.out"), "ab")
        self.procs.append(("slurmctld", subprocess.Popen(["slurmctld", "-D", "-i", "-f", self.conf], env=self.env,
                                                         stdout=log, stderr=log, preexec_fn=_die_with_test)))
        denv = dict(self.env)
        denv.update(slurmd_env)
        for n in self.nodes:
            self.procs.append(("slurmd " + n, subprocess.Popen(["slurmd", "-D", "-N", n, "-f", self.conf], env=denv,
                                                               stdout=log, stderr=log, preexec_fn=_die_with_test)))
        self._wait_idle()

    def _start_munge(self):
        key = self.path("munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        self.munge_socket = self.path("munge", "munge.sock")
        p = subprocess.Popen(["munged", "-F", "-f", "--socket=" + self.munge_socket, "--key-file=" + key,
                              "--pid-file=" + self.path("munge", "munged.pid"),
                              "--log-file=" + self.path("log", "munged.log"),
                              "--seed-file=" + self.path("munge", "seed")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_test)
        self.procs.append(("munged", p))
        for _ in range(100):
            if os.path.exists(self.munge_socket):
                return
            if p.poll() is not None:
                break
            time.sleep(0.05)
        e2e_common.fail("munged did not start; see %s" % self.path("log", "munged.log"))

    def _write_conf(self, ports, plugstack_args, leader_lo):
        host = socket.gethostname()
        self.conf = self.path("etc", "slurm.conf")
        lines = [
            "ClusterName=chasetest", "SlurmctldHost=%s(127.0.0.1)" % host, "SlurmctldPort=%d" % ports[0],
            "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge", "CredType=cred/munge",
            "AuthInfo=socket=%s" % self.munge_socket,
            "StateSaveLocation=%s" % self.path("state"), "SlurmdSpoolDir=%s/%%n" % self.path("spool"),
            "SlurmctldPidFile=%s" % self.path("run", "slurmctld.pid"),
            "SlurmdPidFile=%s" % self.path("run", "slurmd.%n.pid"),
            "SlurmctldLogFile=%s" % self.path("log", "slurmctld.log"),
            "SlurmdLogFile=%s" % self.path("log", "slurmd.%n.log"), "SlurmdDebug=verbose",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core", "GresTypes=gpu", "MpiDefault=none", "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none", "SchedulerType=sched/builtin",
            "ReturnToService=2", "KillWait=2", "MessageTimeout=20", "InactiveLimit=0",
            "PlugStackConfig=%s" % self.path("etc", "plugstack.conf"),
        ]
        for i, n in enumerate(self.nodes):
            lines.append("NodeName=%s NodeHostname=%s NodeAddr=127.0.0.1 Port=%d CPUs=2 Gres=gpu:%d State=UNKNOWN"
                         % (n, host, ports[1 + i], GPUS_PER_NODE))
        lines.append("PartitionName=test Nodes=%s Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"
                     % ",".join(self.nodes))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(self.path("etc", "gres.conf"), "w") as f:
            for i, n in enumerate(self.nodes):
                f.write("NodeName=%s Name=gpu File=%s/nvidia[%d-%d]\n"
                        % (n, self.path("dev"), i * GPUS_PER_NODE, (i + 1) * GPUS_PER_NODE - 1))
        args = ["helper=" + os.environ["CHASE_SLURM_HELPER"], "nvml_library=" + os.environ["CHASE_NVML_LIBRARY"],
                "munge_socket=" + self.munge_socket, "journal_dir=" + self.path("journal"),
                "rundir=" + self.path("run", "chase"), "ports=%d-%d" % (leader_lo, leader_lo + 15),
                "min_period=1s", "start_timeout=30s", "stop_timeout=20s"] + list(plugstack_args)
        # srun loads the plugin as the job's user (inside a batch job: nobody), who may not reach the build tree
        # (a clone in a 0700 folder, as mktemp -d makes): plugstack.conf names a copy in the cluster's own folder.
        plugin = self.path("etc", "spank_chase.so")
        shutil.copyfile(os.environ["CHASE_SLURM_PLUGIN"], plugin)
        os.chmod(plugin, 0o755)
        with open(self.path("etc", "plugstack.conf"), "w") as f:
            f.write("required %s %s\n" % (plugin, " ".join(args)))

    def _wait_idle(self, timeout=60):
        t_end = time.monotonic() + timeout
        out = ""
        while time.monotonic() < t_end:
            for name, p in self.procs:
                if p.poll() is not None:
                    e2e_common.fail("%s exited with %s; logs in %s:\n%s" % (name, p.returncode, self.path("log"),
                                                                           self.log_tail()))
            r = subprocess.run(["sinfo", "-N", "-h", "-o", "%N %t"], env=self.env, capture_output=True, text=True)
            out = r.stdout
            states = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
            if all(states.get(n) == "idle" for n in self.nodes):
                return
            time.sleep(0.3)
        e2e_common.fail("the nodes did not come up: %s\n%s" % (out, self.log_tail()))

    # ---- use ----

    def tool(self, *args):
        out = subprocess.run([os.environ["FAKE_NVML_STATE_TOOL"], self.state] + list(args), env=self.env,
                             capture_output=True, text=True, timeout=30)
        e2e_common.check(out.returncode == 0, "fake_nvml_state %s failed: %s" % (args, out.stderr))
        return out.stdout

    def gpus(self):
        """The fake GPUs by NVML index."""
        return json.loads(self.tool())["gpus"]

    def nvml_index(self, node, k=0):
        """The NVML index of node's k-th GPU (gres order), through its device file's minor number."""
        minor = self.nodes.index(node) * GPUS_PER_NODE + k
        return self.minors.index(minor)

    def run(self, argv, timeout=120, **kw):
        """Runs a Slurm command as root; returns (status, stdout, stderr)."""
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.path("work"),
                           **kw)
        no_sanitizer_report(p.stderr)
        return p.returncode, p.stdout, p.stderr

    def popen(self, argv):
        return subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.path("work"))

    def srun(self, args, command, timeout=120):
        return self.run(["srun", "--uid=%d" % NOBODY, "--gid=%d" % NOBODY, "--chdir=" + self.path("work")] + args
                        + command, timeout=timeout)

    def slurmd_log(self):
        text = ""
        for n in self.nodes:
            p = self.path("log", "slurmd.%s.log" % n)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += f.read()
        return text

    def log_tail(self, lines=40):
        out = []
        for name in sorted(os.listdir(self.path("log"))):
            with open(self.path("log", name), errors="replace") as f:
                tail = f.read().splitlines()[-lines:]
            out.append("==> %s <==\n%s" % (name, "\n".join(tail)))
        return "\n".join(out)

    def helpers(self):
        """Process ids of running chase helpers (children of this cluster's slurmstepds)."""
        r = subprocess.run(["pgrep", "-f", "chase-slurm-step --job="], capture_output=True, text=True)
        return [int(x) for x in r.stdout.split()]

    def stop(self):
        if any(name.startswith("slurmd") for name, _ in self.procs):
            subprocess.run(["scancel", "--full", "--user=root"], env=self.env, capture_output=True, timeout=30)
            subprocess.run(["scancel", "--full", "--user=nobody"], env=self.env, capture_output=True, timeout=30)
        # Daemons last to first: slurmd, then slurmctld, then munged.
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []
        if self.ok and not os.environ.get("CHASE_KEEP_SLURM_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("Slurm test files kept in %s" % self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.ok = True
        else:
            print(self.log_tail())
        self.stop()
        return False
