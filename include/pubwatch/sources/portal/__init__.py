"""Portal columns (栏目): the `portal` source kind and the list parser it uses.

- `column.py`     PortalColumn, the source kind "portal" (fetch, stay on the column, paginate,
                  confirm unsure dates from article pages, settle empty lists)
- `listing.py`    parse_list and the list-profile framework (ListProfile / HtmlList / GroupList, Page)
- `profiles/`     one module per list profile (trs, jcms, table, json_api, selectors, generic)
- `listdates.py`  an entry's date by meaning and plausibility (`_finish`)
- `entries.py`    entries from HTML blocks; groups of repeated blocks
- `pages.py`      further pages: the TRS pager script, next/last links
- `recognise.py`  empty / error / article pages; list containers (`container_state`)
- `html.py`       text helpers; `article.py` an article page's date
"""
from .listing import ParsedList, parse_list, profile_names  # noqa: F401
from . import profiles  # noqa: F401,E402  (registers the list profiles)
from .article import article_date, article_date_found  # noqa: F401,E402
from .recognise import container_state  # noqa: F401,E402
from .column import PortalColumn  # noqa: F401,E402

__all__ = ["PortalColumn", "ParsedList", "parse_list", "profile_names", "article_date", "article_date_found",
           "container_state"]
