"""A skeleton kamaji datastore driver (entry point ``template`` in ``kamaji.datastore.drivers``)."""

from kamaji_driver_template.driver import TemplateDriver

__all__ = ["TemplateDriver"]
