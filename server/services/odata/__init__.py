"""A read-only OData v4 feed of the register and the submissions, as ODK Central offers, so
Excel and Power BI connect: entity sets (`sets`), `$metadata` (`csdl`), query options
(`query`). The blueprint is server.odata."""
