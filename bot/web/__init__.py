"""The mobile web: checklist forms, public disclosure pages, dashboards, JSON API."""
