"""Helpers shared by the Python oracles (tests/oracle/test_*.py).

Not a test itself: tests/CMakeLists.txt registers only tests/oracle/test_*.py.
The oracles run as scripts with /usr/bin/python3 from ctest's working
directory (the build's test-tmp), so each one puts its own folder first on
sys.path before importing this module:

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import oracle_util as U  # noqa: E402

Exit code 77 means "skipped" to ctest (SKIP_RETURN_CODE in tests/CMakeLists.txt).
Standard library only, so importing it never skips or fails an oracle.
"""
import importlib
import os
import subprocess
import sys

SKIP = 77

# Scratch folder given by ctest (ONCOLM_TMP); "." when run by hand without it.
TMP = os.environ.get("ONCOLM_TMP", ".")

# Messages of the failed checks, in order. Oracles may append to it directly
# (for checks with their own formatting); finish() and summary() read it.
failures = []

_style = {"verbose": False, "print_limit": None, "checks": 0}


def skip(msg):
    """Print "<msg>: skipped" and exit 77 (ctest: skipped). Never returns."""
    print(msg + ": skipped")
    sys.exit(SKIP)


def need(module, what=None):
    """Import and return `module` (a dotted name, e.g. "numpy"); when the import
    fails, skip with "<what or module> missing"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        skip((what or module) + " missing")


def need_bin(must_exist=False):
    """$ONCOLM_BIN (the CLI), or skip when it is unset or empty (or, with
    must_exist, names no file)."""
    b = os.environ.get("ONCOLM_BIN")
    if not b or (must_exist and not os.path.exists(b)):
        skip("ONCOLM_BIN missing")
    return b


def need_helper(name):
    """Path of the helper program $ONCOLM_HELPERS/<name>; skip when
    ONCOLM_HELPERS is unset or empty or the program does not exist."""
    h = os.environ.get("ONCOLM_HELPERS")
    if not h or not os.path.exists(os.path.join(h, name)):
        skip("ONCOLM_HELPERS/" + name + " missing")
    return os.path.join(h, name)


def tmp_namer(prefix):
    """A function name -> os.path.join(TMP, prefix + name): each oracle keeps
    its files apart under one prefix."""
    return lambda name: os.path.join(TMP, prefix + name)


def configure_checks(verbose=False, print_limit=None):
    """How check() reports. verbose: print "ok   <msg>" / "FAIL <msg>" for every
    check (flushed); otherwise only failures, as "FAIL: <msg>", and at most
    print_limit of them (None = all; later ones are still recorded)."""
    _style["verbose"] = verbose
    _style["print_limit"] = print_limit


def check(cond, msg):
    """Count one check; when `cond` is false record `msg` in failures. Prints
    as configure_checks() says. Returns bool(cond)."""
    _style["checks"] += 1
    if _style["verbose"]:
        print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)
        limit = _style["print_limit"]
        if not _style["verbose"] and (limit is None or len(failures) <= limit):
            print("FAIL:", msg)
    return bool(cond)


def n_checks():
    """How many times check() has been called."""
    return _style["checks"]


def summary():
    """"<n> checks, <m> failures" (check() calls and recorded failures)."""
    return "%d checks, %d failures" % (_style["checks"], len(failures))


def finish(ok_msg="ok", show=0):
    """End of an oracle. With failures: print "<m> failure(s)", then the first
    `show` failure messages indented (None = all), and exit 1. Without: print
    ok_msg and return (the script then ends normally, exit 0)."""
    if failures:
        print("%d failure(s)" % len(failures))
        for f in failures[:show]:
            print("  " + f)
        sys.exit(1)
    print(ok_msg)


def run_cli(bin_path, args, expect=0, tail=None, **kw):
    """Run [bin_path] + args (text, capture_output, errors="replace"; extra
    keyword arguments go to subprocess.run, e.g. input=). When expect is not
    None and the exit code differs, stop the oracle (SystemExit) with the
    command, both codes and stderr (its last `tail` characters; None = all). Returns the
    CompletedProcess."""
    r = subprocess.run([bin_path] + list(args), capture_output=True, text=True, errors="replace", **kw)
    if expect is not None and r.returncode != expect:
        raise SystemExit("%s %s: exit %d (expected %d)\n%s" % (os.path.basename(bin_path), " ".join(map(str, args)),
                                                                r.returncode, expect,
                                                                r.stderr if tail is None else r.stderr[-tail:]))
    return r


def try_run(cmd, tail=600):
    """Run cmd (a list; text, errors="replace"). Returns (stdout, None) on exit
    0, else (None, "exit <code>: <last `tail` chars of stderr, or stdout when
    stderr is empty>") for the caller to check."""
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if r.returncode != 0:
        return None, "exit %d: %s" % (r.returncode, (r.stderr or r.stdout).strip()[-tail:])
    return r.stdout, None


M64 = (1 << 64) - 1


class Xoshiro256ss:
    """oncolm's generator (oncolm/rng.h), reimplemented: xoshiro256** whose
    four state words are successive splitmix64 outputs from `seed`. The same
    seed gives the same stream as the C code."""

    def __init__(self, seed):
        x = seed & M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        """The next 64-bit output."""
        s = self.s
        result = (self.rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def uniform(self):
        """A double in [0, 1): the top 53 bits of next()."""
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def below(self, bound):
        """Lemire's unbiased integer in [0, bound)."""
        m = self.next() * bound
        low = m & M64
        if low < bound:
            t = ((1 << 64) - bound) % bound
            while low < t:
                m = self.next() * bound
                low = m & M64
        return m >> 64
