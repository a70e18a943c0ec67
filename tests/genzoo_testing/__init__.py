"""Helpers shared by the test suite, importable by name (pyproject's pytest `pythonpath = ["tests"]`).

    genzoo_testing.training       make_config: a tiny RunConfig on the procedural `shapes` data
    genzoo_testing.tiny_models    TINY: a CPU-sized configuration of every registered model; make_batch

Fixtures stay in the conftest files; anything a test imports lives here, so no test imports a
conftest module (two conftest files share the module name `conftest`, and the first one imported wins).
"""
