"""pubwatch: weekly publishing-duty supervision for a county's units (portal + WeChat).

The library imports no Airflow; the DAGs in dags/ only wire its calls together.
"""
__version__ = "0.1.0"
