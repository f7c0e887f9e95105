"""python -m verify.running.falsification: print the falsification benchmark."""

from verify.running.falsification.benchmark import main

if __name__ == "__main__":
    main()
