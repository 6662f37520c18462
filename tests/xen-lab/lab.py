#!/usr/bin/env python3
"""Boot Xen 4.17 + Dom-0 under QEMU (TCG) and run the lab's steps in Dom-0 over the serial console.

Called by ./run, which builds the cache and remus-tune first. This file:
  1. decides which steps the given remus-tune binary can run (steps.toml `requires`),
  2. packs an overlay initramfs (/init, /lab/...) and appends it to the cached Dom-0 root,
  3. boots qemu-system-x86_64 with Xen as -kernel and Dom-0 as multiboot modules, serial on stdio,
  4. waits for Dom-0's "LAB-DOM0-READY", then types `runstep NAME TIMEOUT` for each step and
     waits for its "@@END NAME rc=.. secs=.." marker (an expect-like loop; no network),
  5. has Dom-0 write /lab/out as a tar onto a raw virtio disk, reads it back on the host,
  6. writes result.json + result.txt (what passed, step times, measured vs known rates,
     checkpoints) and copies the steps' `fixtures` to the fixtures directory.
"""

import argparse
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))

XEN_CMDLINE = "console=com1 com1=115200,8n1 dom0_mem=1536M dom0_max_vcpus=1 smap=0 smep=0"
# --xen-debug: Xen's debug messages (one burst per Remus checkpoint) on the serial console too.
XEN_DEBUG = " loglvl=all guest_loglvl=all"
DOM0_CMDLINE = "console=hvc0 quiet rdinit=/init"
OUT_DISK_MB = 256


def log(msg):
    print(f"[{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S}] {msg}", file=sys.stderr,
          flush=True)


# ---------------------------------------------------------------------------- capabilities

def help_text(binary, sub):
    args = [binary] + ([sub, "--help"] if sub else ["--help"])
    r = subprocess.run(args, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def missing_requirements(binary, requires, cache):
    """The `requires` entries this binary does not offer (empty: the step can run)."""
    missing = []
    for req in requires:
        sub, _, regex = req.partition(":")
        if sub not in cache:
            cache[sub] = help_text(binary, sub)
        rc, text = cache[sub]
        if rc != 0 or (regex and not re.search(regex, text)):
            missing.append(req)
    return missing


# ---------------------------------------------------------------------------- initramfs

def pack_cpio(root, dest):
    """newc cpio of the tree at root, gzip -1, as the kernel's initramfs unpacker wants."""
    with open(dest, "wb") as f:
        find = subprocess.Popen(["find", ".", "-print0"], cwd=root, stdout=subprocess.PIPE)
        cpio = subprocess.Popen(["cpio", "-o", "-0", "-H", "newc", "--quiet", "-R", "0:0"],
                                cwd=root, stdin=find.stdout, stdout=subprocess.PIPE)
        gz = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=f)
        find.stdout.close()
        cpio.stdout.close()
        if gz.wait() or cpio.wait() or find.wait():
            raise RuntimeError(f"packing {root} failed")


def copy_missing_libraries(binary, root, overlay, everything=False):
    """A dynamically linked remus-tune (e.g. one linking hwloc) gets the shared libraries that
    Dom-0's root lacks, from this host, at the same paths. Host and Dom-0 are both Debian 12,
    so the versions agree."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if r.returncode != 0:  # "not a dynamic executable"
        return
    paths = re.findall(r"=> (/\S+)", r.stdout)
    if everything:  # the dynamic loader too
        paths += re.findall(r"^\s*(/\S+) \(", r.stdout, re.M)
    for path in paths:
        real = os.path.realpath(path)
        if everything:
            install(real, overlay + path, 0o755)
        elif not os.path.exists(root + path) and not os.path.exists(root + real):
            log(f"Dom-0 lacks {path}: copying it from this host")
            # Dom-0's root is /usr-merged (/lib -> usr/lib): write below /usr, not over the link
            dest = "/usr" + path if path.startswith(("/lib/", "/lib64/")) else path
            install(real, overlay + dest, 0o644)


def install(src, dst, mode=0o755):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy(src, dst)
    os.chmod(dst, mode)


def build_initrds(args, conf, steps, work):
    lab = conf["lab"]
    # The Dom-U: busybox, remus-tune (static) and an /init that runs the known-rate load.
    du = os.path.join(work, "domu-root")
    install(os.path.join(args.cache, "busybox"), f"{du}/bin/busybox")
    install(args.guest_binary or args.binary, f"{du}/remus-tune")
    # The guest has little memory: its copy goes without debug info.
    subprocess.run(["strip", f"{du}/remus-tune"], check=True)
    # A dynamically linked one brings every library it needs (the initramfs has none).
    copy_missing_libraries(args.guest_binary or args.binary, du, du, everything=True)
    install(os.path.join(HERE, "domu/init"), f"{du}/init")
    # xen-blkfront is a module in Debian's kernel: without it an attached disk never connects.
    kmods = os.path.join(args.cache, "kernel/x/lib/modules")
    for kver in os.listdir(kmods):
        install(os.path.join(kmods, kver, "kernel/drivers/block/xen-blkfront.ko"),
                f"{du}/xen-blkfront.ko", 0o644)
    for d in ("proc", "sys", "dev", "tmp"):
        os.makedirs(f"{du}/{d}", exist_ok=True)
    with open(f"{du}/workload.env", "w") as f:
        f.write(f"SWEEP={lab['guest_sweep']}\nRATE={lab['guest_rate']}\n"
                f"SEGMENT={lab['guest_segment_s']}\n")

    # The overlay on Dom-0's cached root: /init, /lab/bin tools, the guest, the steps.
    ov = os.path.join(work, "dom0-overlay")
    install(os.path.join(HERE, "dom0/init"), f"{ov}/init")
    for tool in ("runstep", "lab-remus", "lab-ckstats", "lab-block", "lab-guest-rate", "lab-probe",
                 "lab-guest-load", "lab-fresh-guest", "lab-xen-means", "lab-work-probe",
                 "lab-model-loop"):
        install(os.path.join(HERE, "dom0", tool), f"{ov}/lab/bin/{tool}")
    install(args.binary, f"{ov}/lab/bin/remus-tune")
    copy_missing_libraries(args.binary, os.path.join(args.cache, "dom0-root"), ov)
    install(os.path.join(args.cache, "lab-resume"), f"{ov}/lab/bin/lab-resume")
    install(os.path.join(args.cache, "kernel/vmlinuz"), f"{ov}/lab/vmlinuz", 0o644)
    pack_cpio(du, f"{ov}/lab/domu-initrd.gz")
    with open(os.path.join(HERE, "dom0/guest.cfg")) as f:
        cfg = f.read().replace("@DOMU@", lab["domu"]).replace(
            "@GUEST_MEMORY_MIB@", str(lab["guest_memory_mib"]))
    with open(f"{ov}/lab/guest.cfg", "w") as f:
        f.write(cfg)
    env = {
        "PATH": "/lab/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin",
        "OUT": "/lab/out", "RT": "/lab/bin/remus-tune", "DOMU": lab["domu"],
        "GUEST_SWEEP": lab["guest_sweep"], "GUEST_RATE": lab["guest_rate"],
        "GUEST_SEGMENT_S": lab["guest_segment_s"],
        "DOM0_SWEEP": lab["dom0_sweep"], "DOM0_RATE": lab["dom0_rate"],
        "REMUS_INTERVAL_MS": lab["remus_interval_ms"], "TERM": "dumb",
    }
    with open(f"{ov}/lab/env", "w") as f:
        f.writelines(f"export {k}='{v}'\n" for k, v in env.items())
    for st in steps:
        os.makedirs(f"{ov}/lab/steps", exist_ok=True)
        with open(f"{ov}/lab/steps/{st['name']}.sh", "w") as f:
            f.write(". /lab/env\ncd /lab/out\n" + st["run"])
    os.makedirs(f"{ov}/lab/out", exist_ok=True)
    overlay = os.path.join(work, "overlay.cpio.gz")
    pack_cpio(ov, overlay)
    # Concatenated gzip'd cpio archives are one initramfs; later files win (our /init).
    dom0 = os.path.join(work, "dom0-initrd.cpio.gz")
    with open(dom0, "wb") as out:
        for part in (os.path.join(args.cache, "dom0-base.cpio.gz"), overlay):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    return dom0


# ---------------------------------------------------------------------------- console driver

class Console:
    """QEMU with its serial port on stdin/stdout; everything it prints goes to console.log."""

    def __init__(self, cmd, logpath):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.buf = ""
        self.lock = threading.Condition()
        self.logf = open(logpath, "w", errors="replace")
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                break
            text = data.decode("utf-8", "replace").replace("\r", "")
            self.logf.write(text)
            self.logf.flush()
            with self.lock:
                self.buf += text
                self.lock.notify_all()
        with self.lock:
            self.lock.notify_all()

    def mark(self):
        with self.lock:
            return len(self.buf)

    def expect(self, regex, timeout, start=0):
        """First match of regex in the output from offset start, or None after timeout."""
        pat = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                m = pat.search(self.buf, start)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self.lock.wait(min(left, 1.0))

    def send(self, line):
        # Typed slowly: Xen's console input path is a 16550 FIFO on an emulated CPU.
        for ch in line:
            self.proc.stdin.write(ch.encode())
            self.proc.stdin.flush()
            time.sleep(0.005)

    def text(self, a, b=None):
        with self.lock:
            return self.buf[a:b]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------- the run

def parse_metrics(text):
    metrics = {}
    for k, v in re.findall(r"@@metric ([A-Za-z0-9_]+)=(\S*)\n", text):
        try:
            metrics[k] = float(v) if "." in v else int(v)
        except ValueError:
            metrics[k] = v
    return metrics


def mean_rate(path, interval_ms):
    """Mean distinct pages per real second over the windows of interval_ms, and the summary."""
    with open(path) as f:
        summary = json.load(f)
    iv = next(i for i in summary["intervals"] if i["interval_ms"] == interval_ms)
    return iv["dirty_mib_per_s"] * (1 << 20) / summary["page_size"], summary


def rate_check(spec, lab, outdir, step_output, metrics):
    """Measured dirty rate (pages per real second of the windows at interval_ms) against the
    configured rate and against the rate the workload says it achieved (`workload: N sweep
    writes ... in T s` on its stderr), when it said so. With a baseline (the same measurement
    of the idle guest), what is checked is loaded - idle; with several intervals, each one."""
    known = float(lab[spec["known"].lower()])
    tol = spec.get("tolerance", 0.3)
    ivs = spec["interval_ms"] if isinstance(spec["interval_ms"], list) else [spec["interval_ms"]]
    res = {"known_pages_per_s": known, "interval_ms": ivs[0], "tolerance": tol}
    m = re.search(r"workload: (\d+) sweep writes, .*? in ([\d.]+) s", step_output or "")
    if m:
        res["workload_achieved_pages_per_s"] = round(int(m.group(1)) / float(m.group(2)), 1)
    if "workload_achieved_pages_per_s" in metrics:  # the guest's, from lab-guest-rate
        res["workload_achieved_pages_per_s"] = metrics["workload_achieved_pages_per_s"]
    # the known rate of what the difference leaves: the workload's, less the baseline's own
    want = known - float(spec.get("baseline_known", 0)) if "baseline" in spec else known
    res["known_pages_per_s"] = want
    per_interval = []
    try:
        for iv in ivs:
            loaded, summary = mean_rate(os.path.join(outdir, spec["file"]), iv)
            row = {"interval_ms": iv, "loaded_pages_per_s": round(loaded, 1)}
            measured = loaded
            if "baseline" in spec:
                base, _ = mean_rate(os.path.join(outdir, spec["baseline"]), iv)
                measured = loaded - base
                row.update(baseline_pages_per_s=round(base, 1))
            if "also_baseline" in spec:  # recorded beside the check, not checked
                other, _ = mean_rate(os.path.join(outdir, spec["also_baseline"]), iv)
                row.update(also_baseline_pages_per_s=round(other, 1),
                           net_of_also_baseline_pages_per_s=round(loaded - other, 1),
                           net_of_also_baseline_relative_error=round((loaded - other - known) / known, 3))
            err = (measured - want) / want
            row.update(measured_pages_per_s=round(measured, 1), relative_error=round(err, 3),
                       ok=abs(err) <= tol)
            per_interval.append(row)
        res["method"] = summary.get("method")
        res["late_epochs"] = f"{summary.get('late_epochs')}/{summary.get('base_epochs')}"
    except (OSError, ValueError, KeyError, StopIteration) as e:
        res.update(ok=False, error=f"cannot read the measured rate from {spec['file']}: {e}")
        return res
    first = per_interval[0]
    res.update(measured_pages_per_s=first["measured_pages_per_s"],
               relative_error=first["relative_error"], ok=all(r["ok"] for r in per_interval))
    if "baseline" in spec:
        res.update(net_of=spec["baseline"], loaded_pages_per_s=first["loaded_pages_per_s"],
                   baseline_pages_per_s=first["baseline_pages_per_s"])
    if len(per_interval) > 1 or "baseline" in spec:
        res["intervals"] = per_interval
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--binary", required=True,
                    help="remus-tune for Dom-0 (static, or dynamic: missing libraries are copied)")
    ap.add_argument("--guest-binary", help="static remus-tune for the Dom-U's workload "
                    "[default: --binary]")
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--fixtures", help="directory to copy the steps' fixtures to")
    ap.add_argument("--steps", default=os.path.join(HERE, "steps.toml"))
    ap.add_argument("--only", help="comma-separated step names (plus the critical ones)")
    ap.add_argument("--boot-timeout", type=int, default=900)
    ap.add_argument("--xen-debug", action="store_true", help="boot Xen with loglvl=all")
    args = ap.parse_args()

    with open(args.steps, "rb") as f:
        conf = tomllib.load(f)
    lab = conf["lab"]
    os.makedirs(args.run_dir, exist_ok=True)
    work = os.path.join(args.run_dir, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    results = []  # skipped-for-capability steps; merged back in step order at the end
    helps = {}
    runnable = []
    only = set(args.only.split(",")) if args.only else None
    for st in conf["step"]:
        if only and st["name"] not in only and not st.get("critical"):
            continue
        miss = missing_requirements(args.binary, st.get("requires", []), helps)
        if miss:
            results.append({"name": st["name"], "status": "not available in this build",
                            "missing": miss})
        else:
            runnable.append(st)

    t0 = time.monotonic()
    dom0_initrd = build_initrds(args, conf, runnable, work)
    log(f"initramfs packed in {time.monotonic() - t0:.0f} s")
    out_img = os.path.join(work, "out.img")
    with open(out_img, "wb") as f:
        f.truncate(OUT_DISK_MB << 20)

    xen_cmdline = XEN_CMDLINE + (XEN_DEBUG if args.xen_debug else "")
    qemu = ["qemu-system-x86_64", "-M", "pc", "-cpu", "max", "-m", "4096", "-smp", "2",
            "-display", "none", "-no-reboot", "-nic", "none", "-monitor", "none",
            "-chardev", "stdio,id=s0,signal=off", "-serial", "chardev:s0",
            "-drive", f"file={out_img},format=raw,if=virtio",
            "-kernel", os.path.join(args.cache, "xen/xen"), "-append", xen_cmdline,
            "-initrd", f"{os.path.join(args.cache, 'kernel/vmlinuz')} {DOM0_CMDLINE},{dom0_initrd}"]
    log("booting Xen + Dom-0 under QEMU (TCG)")
    t_boot = time.monotonic()
    con = Console(qemu, os.path.join(args.run_dir, "console.log"))
    started = datetime.datetime.now(datetime.timezone.utc)
    fatal = None
    try:
        m = con.expect(r"LAB-DOM0-READY", args.boot_timeout)
        boot_s = time.monotonic() - t_boot
        if not m:
            fatal = f"Dom-0 did not come up within {args.boot_timeout} s (see console.log)"
            results.insert(0, {"name": "boot", "status": "failed", "secs": round(boot_s, 1),
                               "error": fatal})
        else:
            log(f"Dom-0 ready after {boot_s:.0f} s")
            results.insert(0, {"name": "boot", "status": "passed", "secs": round(boot_s, 1),
                               "checks": "Xen 4.17 + Dom-0 up, xenstored, xenconsoled started"})
            time.sleep(2)
            con.send("stty -echo\n")  # the driver's typing would interleave with output
            time.sleep(1)
            skip_rest = None
            for st in runnable:
                name, limit = st["name"], int(st.get("timeout", 300))
                if skip_rest:
                    results.append({"name": name, "status": "skipped", "why": skip_rest})
                    continue
                log(f"step {name} (timeout {limit} s)")
                t_step = time.monotonic()
                a = con.mark()
                con.send(f"runstep {name} {limit}\n")
                m = con.expect(rf"@@END {re.escape(name)} rc=(\d+) secs=([\d.]+)\n", limit + 120, a)
                out = con.text(a)
                r = {"name": name}
                if not m:
                    con.send("\x03\n")
                    r.update(status="failed", error="no end marker: Dom-0 hung or console lost")
                    skip_rest = f"{name} hung"
                else:
                    out = con.text(a, m.start())
                    rc, secs = int(m.group(1)), float(m.group(2))
                    # secs: host wall clock; dom0_secs: as Dom-0's clock saw it
                    r.update(rc=rc, secs=round(time.monotonic() - t_step, 1), dom0_secs=secs)
                    missing = [e for e in st.get("expect", []) if not re.search(e, out)]
                    if rc == 124:
                        r.update(status="failed", error=f"timed out after {limit} s")
                    elif rc != 0:
                        r.update(status="failed", error=f"exit status {rc}")
                    elif missing:
                        r.update(status="failed", error=f"expected output missing: {missing}")
                    else:
                        r["status"] = "passed"
                r["metrics"] = parse_metrics(out)
                log(f"  -> {r['status']} {r.get('secs', '')} s {r.get('error', '')} {r['metrics'] or ''}")
                results.append(r)
                if r["status"] != "passed" and st.get("critical"):
                    skip_rest = f"critical step {name} failed"

            # Collect /lab/out through the raw disk (binary-safe, unlike the console).
            a = con.mark()
            con.send("mkdir -p /lab/out/consoles; cp /var/log/xen/console/*.log /lab/out/consoles/ 2>/dev/null; "
                     "tar cf /dev/vda -C /lab/out . && sync && echo @@TAR-DONE\n")
            if not con.expect(r"@@TAR-DONE", 300, a):
                log("collecting /lab/out failed")
            a = con.mark()
            con.send("busybox poweroff -f\n")
            con.proc.wait(120)
    except subprocess.TimeoutExpired:
        pass
    finally:
        con.stop()
    total_s = time.monotonic() - t_boot

    outdir = os.path.join(args.run_dir, "out")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    try:
        with tarfile.open(out_img, "r:") as t:
            t.extractall(outdir, filter="data")
    except (tarfile.TarError, OSError) as e:
        log(f"no output archive on the disk: {e}")

    by_name = {st["name"]: st for st in conf["step"]}
    for r in results:
        path = os.path.join(outdir, "steps", r["name"] + ".txt")
        if "rc" not in r or not os.path.exists(path):
            continue
        with open(path, errors="replace") as f:
            out = f.read()
        r["metrics"] = parse_metrics(out)
        missing = [e for e in by_name[r["name"]].get("expect", []) if not re.search(e, out)]
        if r["rc"] == 0:
            if missing:
                r.update(status="failed", error=f"expected output missing: {missing}")
            else:
                r["status"] = "passed"
                r.pop("error", None)
    order = {name: i for i, name in enumerate(["boot"] + list(by_name))}
    results.sort(key=lambda r: order.get(r["name"], 0))
    saved = []
    for r in results:
        st = by_name.get(r["name"], {})
        if r.get("status") == "passed" and "rate" in st:
            try:
                with open(os.path.join(outdir, "steps", r["name"] + ".txt"), errors="replace") as f:
                    step_out = f.read()
            except OSError:
                step_out = ""
            rc = rate_check(st["rate"], lab, outdir, step_out, r.get("metrics", {}))
            r["rate"] = rc
            if not rc["ok"]:
                r["status"] = "failed"
                r["error"] = rc.get("error", "measured rate outside tolerance")
        if args.fixtures and r.get("status") == "passed":
            for fx in st.get("fixtures", []):
                src = os.path.join(outdir, fx)
                if os.path.exists(src):
                    os.makedirs(args.fixtures, exist_ok=True)
                    shutil.copy(src, os.path.join(args.fixtures, fx))
                    saved.append(fx)

    counts = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = {
        "started": started.isoformat(timespec="seconds"),
        "total_secs": round(total_s, 1),
        "xen_cmdline": xen_cmdline,
        "binary": args.binary,
        "lab": lab,
        "counts": counts,
        "fixtures_saved": saved,
        "steps": results,
    }
    if fatal:
        summary["fatal"] = fatal
    with open(os.path.join(args.run_dir, "result.json"), "w") as f:
        json.dump(summary, f, indent=2)
    lines = [f"remus-tune Xen lab, {summary['started']}, {total_s:.0f} s from QEMU start to power-off",
             f"{'step':34} {'status':28} {'secs':>7}  details"]
    for r in results:
        det = []
        st_rate = by_name.get(r["name"], {}).get("rate", {})
        if "rate" in r and "measured_pages_per_s" in r["rate"]:
            rt = r["rate"]
            what = "measured"
            if rt.get("net_of"):
                base = os.path.splitext(os.path.basename(rt["net_of"]))[0]
                what = (f"loaded {rt['loaded_pages_per_s']:.0f} - {base} "
                        f"{rt['baseline_pages_per_s']:.0f} = net")
            det.append(f"{what} {rt['measured_pages_per_s']:.0f} vs known "
                       f"{rt['known_pages_per_s']:.0f} pages/s ({rt['relative_error']:+.0%} at "
                       f"{rt['interval_ms']} ms"
                       + "".join(f", {i['relative_error']:+.0%} at {i['interval_ms']} ms"
                                 for i in rt.get("intervals", [])[1:])
                       + "".join(f"; net of {os.path.splitext(os.path.basename(st_rate.get('also_baseline', '')))[0]} "
                                 f"{i['net_of_also_baseline_pages_per_s']:.0f} pages/s "
                                 f"({i['net_of_also_baseline_relative_error']:+.0%}) at {i['interval_ms']} ms"
                                 for i in rt.get("intervals", []) if "net_of_also_baseline_pages_per_s" in i)
                       + f", {rt.get('method')}, late epochs {rt.get('late_epochs')}"
                       + (f", workload achieved {rt['workload_achieved_pages_per_s']:.0f}/s"
                          if "workload_achieved_pages_per_s" in rt else "") + ")")
        det += [f"{k}={v}" for k, v in r.get("metrics", {}).items()]
        if r.get("error"):
            det.append(r["error"])
        if r.get("missing"):
            det.append("needs " + ", ".join(r["missing"]))
        if r.get("why"):
            det.append(r["why"])
        lines.append(f"{r['name']:34} {r['status']:28} {r.get('secs', ''):>7}  {'; '.join(det)}")
    lines.append(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.run_dir, "result.txt"), "w") as f:
        f.write(text)
    if args.fixtures:  # the run's own record beside the outputs it saved
        for name in ("result.txt", "result.json"):
            shutil.copy(os.path.join(args.run_dir, name), os.path.join(args.fixtures, "lab-" + name))
    print(text)
    failed = counts.get("failed", 0) + (1 if fatal else 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
