"""gunicorn settings, read by ``gunicorn config.wsgi`` run from this folder (and ``serve``)."""


def post_worker_init(worker) -> None:
    """Each web worker loads the model before its first request (see ``warm_up``)."""
    from serving.holder import warm_up

    warm_up()
