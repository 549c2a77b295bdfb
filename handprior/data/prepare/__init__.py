"""Preparers: official dataset files + per-frame predictions -> sequence stores (docs/datasets.md; docs/architecture.md,
"Stages").

One module per dataset (:mod:`.interhand26m`, :mod:`.reinterhand`, :mod:`.hanco`, :mod:`.dexycb`) reads the
annotations into per-view hand tracks; :mod:`.pipeline` joins them with predictions (:mod:`.predictions`),
cuts continuous sequences (:mod:`.sequences`), counts every drop (:mod:`.report`) and writes the stores.
:mod:`.commands` holds the typed functions behind ``handprior prepare <name>``.
"""
