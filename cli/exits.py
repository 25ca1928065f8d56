"""What a command's exit status means: the same for every command of the project.

A scheduler or a script can then tell "fix the flags or the data" (BAD_INPUT) from "look at
the log" (FAILED) from "try again later" (LOCKED) without knowing the command. argparse's own
usage errors exit 2 as well.
"""

from typing import Optional

OK = 0  # done; for the pipeline, pushed or not (the evaluation decided)
FAILED = 1  # it ran and failed: a component, a download, a push, the Model Registry...
BAD_INPUT = 2  # a flag, a path or the input is wrong; nothing ran: fix it and rerun
LOCKED = 75  # EX_TEMPFAIL (sysexits.h): another run holds what this one needs; try later


def epilog(failed: str, bad_input: str = "bad flags, paths or input (nothing ran)",
           locked: Optional[str] = None, ok: str = "done") -> str:
    """A command's --help line saying what each of its exit codes means, in its own words."""
    parts = [f"{OK} {ok}", f"{FAILED} {failed}", f"{BAD_INPUT} {bad_input}"]
    if locked:
        parts.append(f"{LOCKED} {locked} (try again later)")
    return "Exit codes: " + ", ".join(parts) + "."
