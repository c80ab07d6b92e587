"""The integration API: /api/v1 (JSON, Bearer keys), its OpenAPI description and reference page.

Handlers stay thin: check the input, run the change through the same plan execution as a
confirmed text (`run_plan_now`, channel "api"), and answer with the object as it now is.
"""
