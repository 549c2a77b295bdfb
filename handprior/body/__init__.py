"""Hand body model: joint orders, the MANO layer wrapper, the stand-in model and safe MANO loading."""
