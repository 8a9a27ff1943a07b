"""The bundle's entry script: `--self-test` goes to packaging/self_test.py, everything else to main.py.

Kept apart from main.py so the packaged app has its self-test whether or not main.py
dispatches `--self-test` itself; `multiprocessing.freeze_support()` because a frozen app
must call it before anything may spawn a worker process.
"""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if "--self-test" in sys.argv[1:]:
        from self_test import run_self_test

        sys.exit(run_self_test(sys.argv[1:]))
    from main import main

    sys.exit(main())
