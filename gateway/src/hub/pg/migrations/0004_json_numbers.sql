-- Numbers and flags read from the records sites send. A value of the wrong type (a string, an
-- object) or out of range reads as NULL instead of failing the whole portfolio query: one
-- site's malformed record must not take every other site's page down.
CREATE FUNCTION kw_num(v jsonb) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' AND abs(v::text::numeric) < 1e300
                THEN v::text::float8 END
$$;
CREATE FUNCTION kw_int(v jsonb) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' AND abs(v::text::numeric) < 1e15
                THEN round(v::text::numeric)::bigint END
$$;
CREATE FUNCTION kw_bool(v jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'boolean' THEN v::text::boolean END
$$;
