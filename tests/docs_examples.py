#!/usr/bin/env python3
"""Runs the examples of groklab's documentation (CTest docs).

For README.md and every docs/*.md (or the pages named on the command line),
takes the fenced blocks whose info string is exactly `sh` or `python` and
runs each page's blocks in order, in one fresh temporary directory per page,
so a block may use what an earlier block of its page wrote:

  sh      bash -e -o pipefail, with the built groklab's directory first on PATH
  python  /usr/bin/python3 (or $GROKLAB_PYTHON), with PYTHONPATH=<source>/python
          and GROKLAB_LIB=<the shared library>, where the groklab package
          finds its library
  c       a whole program (one with a main function): compiled as C11 with
          -Wall -Wextra -pedantic -Werror against <source>/include and the
          shared library, and run; a c block without main is shown, not run

Every other block (text, console, cmake, ...) is shown, not run. Each block is
reported as `ok PAGE:LINE` or `FAIL PAGE:LINE` followed by its output; the
exit status is 1 if any block failed. A python block that needs a module
other than groklab that is not installed (pandas, say) is reported as
`skip` and does not fail the run.

usage: docs_examples.py --groklab PATH --lib PATH [--source DIR]
                        [--only sh|python|c] [--timeout S] [--keep] [PAGE ...]
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

RUN = ("sh", "python", "c")
MAIN = re.compile(r"^int main\(", re.M)
FENCE = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")
MISSING = re.compile(r"ModuleNotFoundError: No module named '([^'.]+)")
MAX_LINES = 200  # of a failing block's output


def blocks(path):
    """(line, info, text) of every fenced block of a Markdown file, line
    1-based at the opening fence, the text dedented by the fence's indent."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or (m.group(2)[0] == "`" and "`" in m.group(3)):
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        start, body = i + 1, []
        i += 1
        while i < len(lines):
            c = FENCE.match(lines[i])
            if c and c.group(2)[0] == fence[0] and len(c.group(2)) >= len(fence) and not c.group(3).strip():
                break
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            i += 1
        i += 1  # past the closing fence (or the end of an unclosed block)
        out.append((start, info, "\n".join(body) + "\n"))
    return out


def run_block(info, text, cwd, env, args):
    """(status, seconds, output, exit status): status ok, FAIL or skip."""
    name = os.path.join(cwd, ".docs-block." + {"sh": "sh", "python": "py", "c": "c"}[info])
    with open(name, "w", encoding="utf-8") as f:
        f.write(text)
    if info == "c":
        libdir = os.path.dirname(os.path.abspath(args.lib))
        exe = os.path.join(cwd, ".docs-block")
        cc = (f"cc -std=c11 -Wall -Wextra -pedantic -Werror -I {args.include} {name} -o {exe} "
              f"-L {libdir} -lgroklab -Wl,-rpath,{libdir} && {exe}; rc=$?; rm -f {exe}; exit $rc")
        cmd = ["bash", "-c", cc]
    else:
        cmd = ["bash", "-e", "-o", "pipefail", name] if info == "sh" else [args.python, name]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=args.timeout)
        output, rc = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode("utf-8", "replace") + f"\n(stopped after {args.timeout} s)\n"
        rc = -1
    finally:
        os.remove(name)
    dt = time.monotonic() - t0
    if rc == 0:
        return "ok", dt, output, rc
    m = MISSING.search(output) if info == "python" else None
    if m and m.group(1) != "groklab":
        return "skip", dt, f"python module '{m.group(1)}' is not installed\n", rc
    return "FAIL", dt, output, rc


def main():
    ap = argparse.ArgumentParser(description="Run the sh, python and c blocks of groklab's docs.")
    ap.add_argument("--groklab", required=True, help="the built groklab program")
    ap.add_argument("--lib", required=True, help="the built shared library (GROKLAB_LIB)")
    ap.add_argument("--source", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="groklab's source tree (default: the one holding this script)")
    ap.add_argument("--only", choices=RUN, help="run only the blocks of this kind")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per block (default 300)")
    ap.add_argument("--keep", action="store_true", help="keep each page's directory")
    ap.add_argument("pages", nargs="*", help="pages to run (default README.md and docs/*.md)")
    args = ap.parse_args()
    args.python = os.environ.get("GROKLAB_PYTHON", "/usr/bin/python3")
    args.include = os.path.join(os.path.abspath(args.source), "include")

    source = os.path.abspath(args.source)
    groklab = os.path.abspath(args.groklab)
    if not os.access(groklab, os.X_OK):
        sys.exit(f"docs_examples: {groklab} is not an executable groklab")
    pages = args.pages or [os.path.join(source, "README.md")] + sorted(glob.glob(os.path.join(source, "docs", "*.md")))

    env = dict(os.environ)
    env["PATH"] = os.path.dirname(groklab) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.path.join(source, "python") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["GROKLAB_LIB"] = os.path.abspath(args.lib)

    counts = {"ok": 0, "FAIL": 0, "skip": 0}
    t_all = time.monotonic()
    for page in pages:
        rel = os.path.relpath(os.path.abspath(page), source)
        todo = [b for b in blocks(page) if b[1] in RUN and (b[1] != "c" or MAIN.search(b[2]))]
        if not todo:
            continue
        cwd = tempfile.mkdtemp(prefix="groklab-docs-")
        for line, info, text in todo:
            where = f"{rel}:{line}"
            if args.only and info != args.only:
                print(f"skip {where} ({info}; --only {args.only})")
                counts["skip"] += 1
                continue
            status, dt, output, rc = run_block(info, text, cwd, env, args)
            counts[status] += 1
            if status == "ok":
                print(f"ok {where} ({info}, {dt:.1f} s)")
            elif status == "skip":
                print(f"skip {where} ({output.strip()})")
            else:
                print(f"FAIL {where} ({info}, {dt:.1f} s, exit status {rc})")
                out = output.rstrip("\n").split("\n") if output.strip() else ["(no output)"]
                if len(out) > MAX_LINES:
                    out = [f"... ({len(out) - MAX_LINES} lines left out)"] + out[-MAX_LINES:]
                print("\n".join("    " + l for l in out))
            sys.stdout.flush()
        if args.keep:
            print(f"  ({rel} ran in {cwd})")
        else:
            shutil.rmtree(cwd, ignore_errors=True)
    print(f"docs examples: {counts['ok']} ok, {counts['FAIL']} failed, {counts['skip']} skipped "
          f"({time.monotonic() - t_all:.1f} s)")
    if counts["ok"] + counts["FAIL"] == 0:
        print("docs examples: no block ran")
        return 1
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
