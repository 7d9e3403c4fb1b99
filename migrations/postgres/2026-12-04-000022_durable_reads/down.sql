DROP FUNCTION bazaar_wait_until_durable();
