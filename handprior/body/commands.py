"""`handprior mano ...` subcommands."""

from handprior.body.safe_pickle import convert_mano

MANO_COMMANDS = {"convert": convert_mano}
