"""A live web dashboard for monitored streams: standard library server, bundled uPlot.

:class:`Board` summarises the results (bounded memory, never slows detection),
:class:`DashboardServer` serves the page and its live event stream on 127.0.0.1, and
:class:`DashboardSink` is the sink that feeds them from a pipeline.

Examples
--------
>>> board = Board()
>>> with DashboardServer(board, port=0) as server:  # port 0: any free port
...     server.url.startswith("http://127.0.0.1:")
True
"""

from oddwatch.dashboard.board import Board
from oddwatch.dashboard.server import DashboardServer
from oddwatch.dashboard.session import DashboardSession
from oddwatch.dashboard.sink import DashboardSink

__all__ = ["Board", "DashboardServer", "DashboardSession", "DashboardSink"]
