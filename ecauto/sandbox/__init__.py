"""A local stand-in for every outside API the daemons call, with their limits and failures.

One HTTP server (`python -m ecauto.sandbox`) speaks the part of each API that ecauto uses:

    SP-API pricing + Login with Amazon   spapi.py     (exact token bucket per operation)
    BASE OAuth and items                  base_shop.py (rotating refresh tokens, hour/day quota)
    eBay Sell Inventory                   ebay.py
    Yahoo! Shopping store API             yahoo.py     (XML)
    Chatwork messages                     chatwork.py  (sliding-window limits, JSON-lines journal)

and, under /_sandbox/, stats, health, the Chatwork journal and fault injection (faults.py).
Prices come from a deterministic market (market.py). app.py routes and decides; server.py does
the HTTP; __main__.py is the command line.
"""
