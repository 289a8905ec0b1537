from django.apps import AppConfig


def _business_processes_changed(sender, business_process_ids: list[int], **kwargs) -> None:
    from .live import request_recompute
    from .search_live import request_push

    request_recompute(business_process_ids)
    request_push(business_process_ids)


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Live monitoring"

    def ready(self) -> None:
        from callbacks.signals import business_process_changed

        business_process_changed.connect(_business_processes_changed, dispatch_uid="monitoring.recompute")
