#!/usr/bin/env python3
"""Erlang C staffing computed another way than the daemon's: the textbook
formula with exact rational arithmetic (Python's integers do not overflow,
so A^N / N! is computed as it is written), for checking
`branchctl staffing erlang` in planning_erlang.sh.

Usage: erlang_reference.py LEADS_PER_HOUR HANDLE_MINUTES ANSWER_WITHIN SERVICE_LEVEL SHRINKAGE MAX_OCCUPANCY
Prints one JSON object with the fields of ErlangResult.
"""
import json
import math
import sys
from fractions import Fraction


def p_wait(a, n):
    """Erlang C: (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A))."""
    top = a ** n / math.factorial(n) * Fraction(n) / (n - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)


def main():
    per_hour, handle_min, within, level, shrinkage, occupancy = (Fraction(x) for x in sys.argv[1:7])
    handle = handle_min * 60
    a = per_hour * handle / 3600
    n = math.floor(a) + 1
    while True:
        c = p_wait(a, n)
        sl = 1 - float(c) * math.exp(-float(n - a) * float(within) / float(handle))
        if sl >= float(level) and a / n <= occupancy:
            break
        n += 1
    print(json.dumps({
        "traffic": float(a), "agents": n, "staffed": math.ceil(Fraction(n) / (1 - shrinkage)),
        "service_level": sl, "occupancy": float(a / n), "probability_waiting": float(c),
        "average_wait_seconds": float(c * handle / (n - a)),
    }))


if __name__ == "__main__":
    main()
