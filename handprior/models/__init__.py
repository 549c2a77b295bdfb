"""Models: plain networks (nets/), classical filters, losses and the LightningModule (refiner)."""
