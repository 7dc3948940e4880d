"""The eval harness: datasets, offline metrics, a runner over :meth:`bot.service.Bot.ask`,
and terminal, JSON and HTML reports. Front end only: it ingests and asks, never reaches
into retrieval or answering."""
