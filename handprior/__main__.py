"""`python -m handprior ...` is the same as the `handprior` console script."""

from handprior.cli import main

if __name__ == "__main__":
    main()
