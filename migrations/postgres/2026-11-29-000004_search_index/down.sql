DROP INDEX products_search_text_trgm;
