"""``python -m kprtrack`` runs the command line."""

from kprtrack.cli import main

if __name__ == "__main__":
    main()
