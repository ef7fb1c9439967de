"""The report's parts, one module each: the sections drawn from the tables (listed in page
order in ``build.SECTIONS``) and the blocks the page builds from findings.json (``findings``,
``seed_claims``: light to import, see ``page``).
"""
