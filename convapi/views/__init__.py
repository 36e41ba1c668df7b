"""The API's views, one module per area of the Rasa HTTP API."""
