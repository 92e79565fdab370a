"""Adapters to outside sources that are neither storage nor an entry point (today: China's
official working-day table from the ``chinesecalendar`` package). The domain stays pure;
the service layer and the projections import the adapter, never the package itself."""
