from django.apps import AppConfig


class TrackersConfig(AppConfig):
    name = "trackers"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from jobs.metrics import outbox_reader_register
        from trackers.outbox import outbox_figures

        def read() -> tuple[int, float, int]:
            figures = outbox_figures()
            return figures.pending, figures.oldest_seconds, figures.set_aside

        outbox_reader_register(read)
