-- Sample database for oe's integration tests: an Odoo-like database with several schemas.
--
-- Load with `psql -X -v ON_ERROR_STOP=1 -f sample.sql` into a fresh UTF8 database
-- (PostgreSQL 15). Deterministic: no random(), no now(); pseudo-random values come from md5.
-- About 4 MB of data in 13 tables over 4 schemas (public, sales, hr, "Odd Schema"), with
-- primary, foreign (one circular), unique and partial keys, a GIN index on jsonb, an enum,
-- views, functions, a trigger, identity/serial/free-standing sequences, a generated column;
-- text with tabs, newlines, CR, backslashes, quotes, `\.` and `\N` lines, control characters,
-- accents, CJK, emoji, RTL; bytea with every byte value and ~100 KB incompressible values;
-- 1-D and 2-D arrays with NULL elements; NULLs in most columns.
--
-- Row counts (tests/it/harness.rs checks them):
--   public.res_country 12, public.res_partner 3000, public.ir_attachment 60,
--   public.ir_config_parameter 6, public.note_samples 24, sales.product_category 20,
--   sales.product 800, sales.sale_order 3000, sales.sale_order_line 12000,
--   hr.department 15, hr.employee 400, hr.leave 2000, "Odd Schema"."Mixed Case" 25.
-- Sequences: sales.invoice_seq (42, not called), public.unused_seq (1, not called),
--   hr.badge_seq (500, called), sales.sale_order_id_seq (4000, called), ...

SET client_min_messages = warning;
SET standard_conforming_strings = on;
SET check_function_bodies = on;
SET TimeZone = 'UTC';

CREATE SCHEMA sales;
CREATE SCHEMA hr;
CREATE SCHEMA "Odd Schema";
COMMENT ON SCHEMA sales IS 'Ventes — 販売';

-- A deterministic pseudo-random number in [0, 2^60) for (n, salt).
CREATE FUNCTION public.pseudo(n bigint, salt text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ('x' || substr(md5(salt || ':' || n::text), 1, 15))::bit(60)::bigint $$;

-------------------------------------------------------------------------------------------
-- public

CREATE TABLE public.res_country (
    code char(2) PRIMARY KEY,
    name text NOT NULL UNIQUE,
    names jsonb NOT NULL DEFAULT '{}'
);

INSERT INTO public.res_country (code, name, names) VALUES
    ('FR', 'France', '{"fr": "France", "ja": "フランス", "ar": "فرنسا"}'),
    ('DE', 'Germany', '{"de": "Deutschland", "fr": "Allemagne"}'),
    ('JP', 'Japan', '{"ja": "日本", "en": "Japan"}'),
    ('EG', 'Egypt', '{"ar": "مصر"}'),
    ('IL', 'Israel', '{"he": "ישראל"}'),
    ('BE', 'Belgium', '{"fr": "Belgique", "nl": "België", "de": "Belgien"}'),
    ('CN', 'China', '{"zh": "中国"}'),
    ('GR', 'Greece', '{"el": "Ελλάδα"}'),
    ('RU', 'Russia', '{"ru": "Россия"}'),
    ('US', 'United States', '{}'),
    ('BR', 'Brazil', '{"pt": "Brasil", "emoji": "🇧🇷"}'),
    ('KR', 'South Korea', '{"ko": "대한민국"}');

CREATE TABLE public.res_partner (
    id serial PRIMARY KEY,
    name text NOT NULL,
    display_name varchar(256),
    email varchar(240),
    is_company boolean NOT NULL DEFAULT false,
    active boolean,
    parent_id integer REFERENCES public.res_partner (id) ON DELETE SET NULL,
    country_code char(2) REFERENCES public.res_country (code),
    credit_limit numeric(16, 2),
    score double precision,
    customer_rank integer,
    ref_big bigint,
    birthdate date,
    create_date timestamptz NOT NULL,
    category_names text[],
    lucky_numbers integer[],
    properties jsonb,
    comment text
);
CREATE UNIQUE INDEX res_partner_email_uniq ON public.res_partner (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX res_partner_parent_idx ON public.res_partner (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX res_partner_name_idx ON public.res_partner (name);
CREATE INDEX res_partner_properties_gin ON public.res_partner USING gin (properties);
COMMENT ON TABLE public.res_partner IS 'Contacts: société, 連絡先, جهات الاتصال';

INSERT INTO public.res_partner (id, name, display_name, email, is_company, active, parent_id,
    country_code, credit_limit, score, customer_rank, ref_big, birthdate, create_date,
    category_names, lucky_numbers, properties, comment)
SELECT i,
    CASE i % 12
        WHEN 0 THEN 'Société Générale n°' || i
        WHEN 1 THEN '株式会社テスト ' || i
        WHEN 2 THEN 'شركة الاختبار ' || i
        WHEN 3 THEN 'חברת בדיקה ' || i
        WHEN 4 THEN 'Zoë''s Café 🍰 ' || i
        WHEN 5 THEN 'O''Brien & "Sons" ' || i
        WHEN 6 THEN E'Tab\tSeparated ' || i
        WHEN 7 THEN E'Multi\nLine\r\nName ' || i
        WHEN 8 THEN 'C:\odoo\back\slash\ ' || i
        WHEN 9 THEN 'Ελληνική Εταιρεία ' || i
        WHEN 10 THEN 'Иванов и партнёры ' || i
        ELSE 'Partner ' || lpad(i::text, 5, '0')
    END,
    CASE WHEN i % 8 = 0 THEN NULL ELSE 'Partner #' || i END,
    CASE WHEN i % 9 = 0 THEN NULL ELSE 'partner' || i || '@example.com' END,
    i % 4 = 0,
    CASE WHEN i % 17 = 0 THEN NULL ELSE i % 23 <> 0 END,
    CASE WHEN i > 200 AND i % 3 = 0 THEN 1 + pseudo(i, 'parent') % 200 END,
    (ARRAY['FR', 'DE', 'JP', 'EG', 'IL', 'BE', 'CN', 'GR', 'RU', 'US', 'BR', 'KR', NULL])[1 + i % 13],
    CASE WHEN i % 5 = 0 THEN NULL ELSE (pseudo(i, 'credit') % 10000000) / 100.0 END,
    CASE WHEN i % 7 = 0 THEN NULL ELSE (pseudo(i, 'score') % 1000000) / 7919.0::float8 END,
    CASE WHEN i % 11 = 0 THEN NULL ELSE (pseudo(i, 'rank') % 50)::integer END,
    pseudo(i, 'big') * 7 - 4000000000000000000,
    CASE WHEN i % 6 = 0 THEN NULL ELSE date '1950-01-01' + (pseudo(i, 'birth') % 20000)::integer END,
    timestamptz '2019-03-31 01:30:00+00' + i * interval '1 hour 7 minutes 13.123456 seconds',
    CASE i % 5
        WHEN 0 THEN NULL
        WHEN 1 THEN ARRAY[]::text[]
        WHEN 2 THEN ARRAY['VIP', 'Fournisseur', NULL]
        WHEN 3 THEN ARRAY['with,comma', 'with "quote"', '{brace}', 'back\slash', '', 'NULL']
        ELSE ARRAY['客户', 'عميل', E'new\nline']
    END,
    CASE WHEN i % 8 = 0 THEN NULL ELSE ARRAY[i % 7, i % 11, NULL, i % 13] END,
    CASE WHEN i % 10 = 0 THEN NULL ELSE jsonb_build_object(
        'tier', i % 3,
        'tags', jsonb_build_array('a', i % 5, true, NULL),
        'nested', jsonb_build_object('x', i, 'label', 'é' || i, 'flag', i % 2 = 0),
        'ratio', (i % 1000) / 8.0,
        'nullval', NULL) END,
    CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('Lorem ipsum dolor sit amet ' || i || '. ', 1 + i % 10) END
FROM generate_series(1, 3000) AS i;
SELECT setval('public.res_partner_id_seq', 3000);

CREATE TABLE public.ir_attachment (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    res_model varchar(128),
    res_id integer,
    mimetype varchar(128),
    public boolean DEFAULT false,
    db_datas bytea,
    file_size integer,
    checksum varchar(64),
    create_date timestamptz
);
CREATE INDEX ir_attachment_res_idx ON public.ir_attachment (res_model, res_id);
CREATE INDEX ir_attachment_checksum_idx ON public.ir_attachment (checksum) WHERE checksum IS NOT NULL;

INSERT INTO public.ir_attachment (id, name, res_model, res_id, mimetype, public, db_datas,
    file_size, checksum, create_date)
SELECT i,
    CASE WHEN i % 10 = 7 THEN '写真 ' || i || '.png' WHEN i % 10 = 3 THEN 'facture n°' || i || ' (copie).pdf'
         ELSE 'file_' || i || '.bin' END,
    (ARRAY['res.partner', 'sale.order', 'hr.employee'])[1 + i % 3],
    CASE WHEN i % 4 = 0 THEN NULL ELSE (i * 7) % 300 + 1 END,
    CASE WHEN i % 6 = 0 THEN 'application/octet-stream' ELSE 'image/png' END,
    CASE WHEN i % 5 = 0 THEN NULL ELSE i % 2 = 0 END,
    d,
    octet_length(d),
    encode(sha256(d), 'hex'),
    timestamptz '2021-06-15 12:00:00+02' + i * interval '1 day 3 hours'
FROM (
    SELECT i, CASE
        -- every byte value 0x00..0xff
        WHEN i = 1 THEN (SELECT string_agg(set_byte('\x00'::bytea, 0, b), ''::bytea ORDER BY b)
                         FROM generate_series(0, 255) AS b)
        WHEN i = 2 THEN ''::bytea
        WHEN i = 3 THEN NULL
        WHEN i = 4 THEN '\x00'::bytea
        WHEN i = 5 THEN decode(repeat('ff', 1000), 'hex')
        WHEN i = 7 THEN convert_to(E'\\.\n\\N\n\t\r\n', 'UTF8')
        -- ~100 KB of incompressible bytes
        WHEN i % 6 = 0 THEN (SELECT string_agg(decode(md5(i || ':' || g), 'hex'), ''::bytea ORDER BY g)
                             FROM generate_series(1, 6400) AS g)
        ELSE decode(md5(i::text) || '00ff' || repeat('0d0a5c', i), 'hex')
    END AS d
    FROM generate_series(1, 60) AS i
) AS blobs;
SELECT setval('public.ir_attachment_id_seq', 60);

CREATE TABLE public.ir_config_parameter (
    id serial PRIMARY KEY,
    key varchar(256) NOT NULL UNIQUE,
    value text NOT NULL
);
INSERT INTO public.ir_config_parameter (key, value) VALUES
    ('database.uuid', 'c0ffee00-0000-4000-8000-000000000001'),
    ('database.create_date', '2020-01-01 00:00:00'),
    ('database.secret', 's3cr3t-''quoted''-\backslash'),
    ('web.base.url', 'https://odoo.example.com'),
    ('mail.catchall.domain', 'example.com'),
    ('report.url', 'http://localhost:8069');

CREATE TABLE public.note_samples (
    id integer PRIMARY KEY,
    title varchar(100) NOT NULL,
    body text,
    tags text[],
    payload jsonb,
    blob bytea,
    amount numeric,
    ratio double precision,
    due date,
    at timestamptz
);
INSERT INTO public.note_samples (id, title, body, tags, payload, blob, amount, ratio, due, at) VALUES
    (1, 'tab', E'col1\tcol2\t\tcol4', ARRAY[E'a\tb'], '{"k": "v\tw"}', '\x09', 1.5, 0.1, '2024-02-29', '2024-02-29 23:59:59.999999+00'),
    (2, 'newlines', E'line1\nline2\r\nline3\rline4\n', ARRAY[E'x\ny'], '{"k": "a\nb"}', '\x0a0d', -0.000001, -0.0, '0001-01-01', '1970-01-01 00:00:00+00'),
    (3, 'backslashes', 'C:\Program Files\Odoo\ \\double \n not a newline', ARRAY['\', '\\'], '{"path": "C:\\odoo"}', '\x5c5c', 0, 1e300, '9999-12-31', '2038-01-19 03:14:08+00'),
    (4, 'copy end marker', E'first\n\\.\nafter the marker', ARRAY['\.'], '{"s": "\\."}', '\x5c2e0a', NULL, NULL, NULL, NULL),
    (5, 'copy null marker', '\N', ARRAY['\N', 'NULL', NULL], '{"n": "\\N"}', '\x5c4e', 1, 1, '2000-01-01', '2000-01-01 00:00:00+00'),
    (6, 'quotes', 'It''s "quoted" `back` ''single'' "double"', ARRAY['''', '"', '"'''], '{"q": "\"''"}', '\x2227', 2, 2, NULL, NULL),
    (7, 'emoji', '😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️', ARRAY['🍰', '☕'], '{"e": "😀", "escaped": "\ud83d\ude00"}', convert_to('😀', 'UTF8'), 3, 3, NULL, NULL),
    (8, 'arabic rtl', 'مرحبا بالعالم — ١٢٣', ARRAY['عربي'], '{"ar": "مرحبا"}', NULL, NULL, NULL, NULL, NULL),
    (9, 'hebrew rtl', 'שלום עולם with embedded English', ARRAY['עברית'], '{"he": "שלום"}', NULL, NULL, NULL, NULL, NULL),
    (10, 'cjk', '你好，世界。日本語テキスト。한국어 텍스트.', ARRAY['中文', '日本語', '한국어'], '{"zh": "你好"}', convert_to('中', 'UTF8'), NULL, NULL, NULL, NULL),
    (11, 'accents', 'Crème brûlée à la façon de Zoë, Ærøskøbing, Straße, İstanbul', ARRAY['é', 'ß'], '{"fr": "é"}', NULL, NULL, NULL, NULL, NULL),
    (12, 'combining', U&'e\0301 vs \00E9, A\030A vs \00C5, zero\200Bwidth', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (13, 'empty string', '', ARRAY[''], '{"": ""}', ''::bytea, NULL, NULL, NULL, NULL),
    (14, 'null everything', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (15, 'text NULL', 'NULL', ARRAY['null'], 'null', NULL, NULL, NULL, NULL, NULL),
    (16, 'spaces', '   leading and trailing   ', ARRAY[' ', '  x  '], '" "', '\x20', NULL, NULL, NULL, NULL),
    (17, 'sql lookalike', E'; DROP TABLE public.res_partner; --\nCOPY x FROM stdin;\n\\.\n$$ dollar $$ $body$', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (18, 'control characters', E'bell\x07 escape\x1b[31mred\x1b[0m unit\x1f del\x7f', NULL, NULL, '\x011f7f80', NULL, NULL, NULL, NULL),
    (19, 'special numbers', 'NaN and infinities', NULL, '{"big": 123456789012345678901234567890.123456789, "small": 1e-30}', NULL, 'NaN', 'Infinity', 'infinity', '-infinity'),
    (20, 'long text', repeat('Ünïcödé ✓ ', 20000), NULL, NULL, NULL, 123456789012345678901234567890.000000000001, -1.5e-300, NULL, NULL),
    (21, 'jsonb deep', NULL, NULL, '{"a": [1, 2.50, {"b": [true, false, null, "x"]}], "unicode \u00e9": "\u0041"}', NULL, NULL, NULL, NULL, NULL),
    (22, 'arrays', NULL, ARRAY['{', '}', ',', '"', '\', 'a b', 'NULL', NULL], '[]', NULL, NULL, NULL, NULL, NULL),
    (23, 'percent and colon', '100% :var :''var'' :"var" \gexec', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (24, 'bom and nbsp', U&'\FEFFbom\00A0nbsp\2028line separator\2029paragraph', NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE SEQUENCE public.unused_seq;

CREATE VIEW public.partner_with_country AS
    SELECT p.id, p.name, p.email, c.name AS country
    FROM public.res_partner AS p
    LEFT JOIN public.res_country AS c ON c.code = p.country_code
    WHERE p.active;

-------------------------------------------------------------------------------------------
-- sales

CREATE TYPE sales.order_state AS ENUM ('draft', 'sent', 'sale', 'done', 'cancel');

CREATE TABLE sales.product_category (
    id integer PRIMARY KEY,
    name text NOT NULL,
    parent_id integer REFERENCES sales.product_category (id),
    complete_name text
);
INSERT INTO sales.product_category (id, name, parent_id, complete_name)
SELECT i, 'Catégorie ' || i, CASE WHEN i > 4 THEN 1 + i % 4 END,
       CASE WHEN i > 4 THEN 'Catégorie ' || (1 + i % 4) || ' / ' ELSE '' END || 'Catégorie ' || i
FROM generate_series(1, 20) AS i;

CREATE TABLE sales.product (
    id integer PRIMARY KEY,
    default_code varchar(64) NOT NULL UNIQUE,
    barcode varchar(32),
    name jsonb NOT NULL,
    categ_id integer NOT NULL REFERENCES sales.product_category (id),
    list_price numeric(12, 2) NOT NULL,
    standard_price numeric(16, 4),
    weight double precision,
    volume real,
    active boolean NOT NULL DEFAULT true,
    sale_ok boolean,
    tags varchar(32)[],
    attributes jsonb,
    description text,
    create_date timestamptz
);
CREATE UNIQUE INDEX product_barcode_uniq ON sales.product (barcode) WHERE barcode IS NOT NULL AND active;
CREATE INDEX product_attributes_gin ON sales.product USING gin (attributes jsonb_path_ops);
CREATE INDEX product_name_gin ON sales.product USING gin (name);

INSERT INTO sales.product (id, default_code, barcode, name, categ_id, list_price, standard_price,
    weight, volume, active, sale_ok, tags, attributes, description, create_date)
SELECT i,
    'PRD-' || lpad(i::text, 5, '0'),
    CASE WHEN i % 4 = 0 THEN NULL ELSE (5400000000000 + i)::text END,
    jsonb_build_object('en_US', 'Product ' || i, 'fr_FR', 'Produit n°' || i, 'ja_JP', '製品' || i),
    1 + i % 20,
    (pseudo(i, 'list') % 100000) / 100.0,
    CASE WHEN i % 9 = 0 THEN NULL ELSE (pseudo(i, 'cost') % 10000000) / 10000.0 END,
    (i % 50) * 0.125 + 0.1,
    CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 97) / 3.0 END,
    i % 30 <> 0,
    CASE WHEN i % 13 = 0 THEN NULL ELSE i % 2 = 0 END,
    CASE WHEN i % 6 = 0 THEN NULL ELSE ARRAY['tag' || i % 5, NULL, 'étiquette'] END,
    jsonb_build_object('color', (ARRAY['red', 'vert', '青', 'أحمر'])[1 + i % 4], 'size', i % 5,
                       'dims', jsonb_build_array(i % 10, i % 7, 1.5)),
    CASE WHEN i % 4 = 1 THEN E'Description\twith tab\nand newline for product ' || i END,
    timestamptz '2020-02-02 02:02:02.5+01' + i * interval '17 minutes'
FROM generate_series(1, 800) AS i;

CREATE SEQUENCE sales.sale_order_id_seq START WITH 1000;

CREATE TABLE sales.sale_order (
    id bigint PRIMARY KEY DEFAULT nextval('sales.sale_order_id_seq'),
    name varchar(32) NOT NULL UNIQUE,
    partner_id integer NOT NULL REFERENCES public.res_partner (id),
    state sales.order_state NOT NULL DEFAULT 'draft',
    date_order timestamptz NOT NULL,
    validity_date date,
    amount_untaxed numeric(14, 2),
    amount_total numeric(14, 2),
    note text,
    client_order_ref varchar(64),
    tag_ids integer[]
);
ALTER SEQUENCE sales.sale_order_id_seq OWNED BY sales.sale_order.id;
CREATE INDEX sale_order_partner_idx ON sales.sale_order (partner_id);
CREATE INDEX sale_order_open_idx ON sales.sale_order (date_order) WHERE state IN ('draft', 'sent');

INSERT INTO sales.sale_order (id, name, partner_id, state, date_order, validity_date, note,
    client_order_ref, tag_ids)
SELECT 1000 + i,
    'SO' || lpad(i::text, 5, '0'),
    1 + pseudo(i, 'customer') % 3000,
    (ARRAY['draft', 'sent', 'sale', 'done', 'cancel']::sales.order_state[])[1 + i % 5],
    timestamptz '2023-01-01 08:00:00+01' + i * interval '2 hours 13 minutes',
    CASE WHEN i % 3 = 0 THEN NULL ELSE date '2023-02-01' + i / 10 END,
    CASE i % 7 WHEN 0 THEN NULL WHEN 1 THEN E'Livraison le matin\nMerci !' WHEN 2 THEN '納期厳守 🚚'
               WHEN 3 THEN 'Ref: "ACME" \ 50% off' ELSE 'Note ' || i END,
    CASE WHEN i % 10 = 0 THEN 'PO/' || i END,
    CASE WHEN i % 4 = 0 THEN NULL ELSE ARRAY[i % 3, i % 5] END
FROM generate_series(1, 3000) AS i;
SELECT setval('sales.sale_order_id_seq', 4000);

CREATE TABLE sales.sale_order_line (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES sales.sale_order (id) ON DELETE CASCADE,
    product_id integer REFERENCES sales.product (id),
    sequence integer NOT NULL DEFAULT 10,
    name text NOT NULL,
    product_uom_qty numeric(12, 3) NOT NULL,
    price_unit numeric(14, 4) NOT NULL,
    discount numeric(5, 2) NOT NULL DEFAULT 0,
    price_subtotal numeric(14, 2)
        GENERATED ALWAYS AS (round(product_uom_qty * price_unit * (1 - discount / 100), 2)) STORED,
    UNIQUE (order_id, sequence)
);
CREATE INDEX sale_order_line_product_idx ON sales.sale_order_line (product_id);

INSERT INTO sales.sale_order_line (id, order_id, product_id, sequence, name, product_uom_qty,
    price_unit, discount)
SELECT i,
    1000 + 1 + (i - 1) / 4,
    CASE WHEN i % 50 = 0 THEN NULL ELSE 1 + pseudo(i, 'product') % 800 END,
    10 * ((i - 1) % 4 + 1),
    CASE i % 6 WHEN 0 THEN E'[PRD] Produit\tavec tabulation' WHEN 1 THEN '製品の説明 ' || i
               WHEN 2 THEN E'Line "quoted"\nsecond line' ELSE 'Line ' || i END,
    (1 + pseudo(i, 'qty') % 100000) / 1000.0,
    (pseudo(i, 'price') % 1000000) / 100.0,
    CASE WHEN i % 5 = 0 THEN 10.5 ELSE 0 END
FROM generate_series(1, 12000) AS i;
SELECT setval(pg_get_serial_sequence('sales.sale_order_line', 'id'), 12000);

UPDATE sales.sale_order AS o
SET amount_untaxed = s.total, amount_total = round(s.total * 1.2, 2)
FROM (SELECT order_id, sum(price_subtotal) AS total FROM sales.sale_order_line GROUP BY order_id) AS s
WHERE s.order_id = o.id AND o.state <> 'cancel';

-- Free-standing sequences: one set but not yet called.
CREATE SEQUENCE sales.invoice_seq;
SELECT setval('sales.invoice_seq', 42, false);

CREATE VIEW sales.order_summary AS
    SELECT o.id, o.name, p.name AS partner, o.state, count(l.id) AS line_count,
           sum(l.price_subtotal) AS total
    FROM sales.sale_order AS o
    JOIN public.res_partner AS p ON p.id = o.partner_id
    LEFT JOIN sales.sale_order_line AS l ON l.order_id = o.id
    GROUP BY o.id, o.name, p.name, o.state;

-------------------------------------------------------------------------------------------
-- hr

CREATE TABLE hr.department (
    id integer PRIMARY KEY,
    name text NOT NULL,
    parent_id integer REFERENCES hr.department (id),
    manager_id integer,
    note text
);
INSERT INTO hr.department (id, name, parent_id, note)
SELECT i, 'Département ' || i, CASE WHEN i > 3 THEN 1 + i % 3 END,
       CASE WHEN i % 2 = 0 THEN 'Équipe n°' || i END
FROM generate_series(1, 15) AS i;

CREATE SEQUENCE hr.badge_seq START WITH 100;
SELECT setval('hr.badge_seq', 500);

CREATE TABLE hr.employee (
    id serial PRIMARY KEY,
    name text NOT NULL,
    department_id integer REFERENCES hr.department (id),
    coach_id integer REFERENCES hr.employee (id),
    work_email varchar(240) UNIQUE,
    badge_id varchar(16),
    hire_date date NOT NULL,
    birthday date,
    salary numeric(10, 2),
    skills text[],
    skill_matrix integer[][],
    active boolean NOT NULL DEFAULT true,
    contract jsonb,
    photo bytea,
    write_date timestamptz,
    notes text
);
CREATE UNIQUE INDEX employee_badge_uniq ON hr.employee (badge_id) WHERE active;
CREATE INDEX employee_department_idx ON hr.employee (department_id);

INSERT INTO hr.employee (id, name, department_id, coach_id, work_email, badge_id, hire_date,
    birthday, salary, skills, skill_matrix, active, contract, photo, write_date, notes)
SELECT i,
    (ARRAY['José Müller', 'Zoë Ñúñez', '李小龙', 'محمد علي', 'דוד כהן', 'Ólafur Þórsson',
           'Łukasz Żółć', 'Nguyễn Văn A', 'O''Connor "Jim"', E'Tab\tName'])[1 + i % 10] || ' ' || i,
    1 + i % 15,
    CASE WHEN i > 20 THEN 1 + pseudo(i, 'coach') % 20 END,
    CASE WHEN i % 25 = 0 THEN NULL ELSE 'emp' || i || '@example.org' END,
    'B' || lpad(i::text, 4, '0'),
    date '2005-01-01' + (pseudo(i, 'hire') % 6000)::integer,
    CASE WHEN i % 7 = 0 THEN NULL ELSE date '1960-01-01' + (pseudo(i, 'bday') % 15000)::integer END,
    CASE WHEN i % 19 = 0 THEN NULL ELSE 1500 + (pseudo(i, 'salary') % 800000) / 100.0 END,
    CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN ARRAY['Python', 'PostgreSQL'] WHEN 2 THEN ARRAY['日本語', NULL]
               ELSE ARRAY[]::text[] END,
    CASE WHEN i % 5 = 0 THEN NULL ELSE ARRAY[[i % 3, i % 5], [i % 7, NULL]] END,
    i % 12 <> 0,
    CASE WHEN i % 3 = 0 THEN NULL
         ELSE jsonb_build_object('type', (ARRAY['CDI', 'CDD', 'Intérim'])[1 + i % 3], 'hours', 35 + i % 5,
                                 'start', date '2005-01-01' + (pseudo(i, 'hire') % 6000)::integer) END,
    CASE WHEN i % 10 = 0 THEN decode(repeat(md5(i::text), 64), 'hex') END,
    timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute 0.000001 second',
    CASE WHEN i % 8 = 0 THEN E'Allergies: none\nEmergency: +33 1 23 45 67 89' END
FROM generate_series(1, 400) AS i;
SELECT setval('hr.employee_id_seq', 400);

-- Circular foreign key: departments and employees reference each other.
UPDATE hr.department SET manager_id = id * 3 WHERE id % 4 <> 0;
ALTER TABLE hr.department ADD CONSTRAINT department_manager_fk
    FOREIGN KEY (manager_id) REFERENCES hr.employee (id) ON DELETE SET NULL;

CREATE TABLE hr.leave (
    id bigint PRIMARY KEY,
    employee_id integer NOT NULL REFERENCES hr.employee (id) ON DELETE CASCADE,
    date_from date NOT NULL,
    date_to date NOT NULL,
    number_of_days numeric(5, 1),
    state varchar(16) NOT NULL CHECK (state IN ('draft', 'confirm', 'validate', 'refuse')),
    reason text,
    CHECK (date_to >= date_from)
);
CREATE INDEX leave_to_approve_idx ON hr.leave (employee_id) WHERE state = 'confirm';

INSERT INTO hr.leave (id, employee_id, date_from, date_to, number_of_days, state, reason)
SELECT i,
    1 + pseudo(i, 'leave') % 400,
    date '2022-01-01' + (pseudo(i, 'from') % 700)::integer,
    date '2022-01-01' + (pseudo(i, 'from') % 700)::integer + i % 10,
    (i % 10) + CASE WHEN i % 2 = 0 THEN 0.5 ELSE 1 END,
    (ARRAY['draft', 'confirm', 'validate', 'refuse'])[1 + i % 4],
    CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN 'Congés payés' WHEN 2 THEN E'Maladie\n(certificat fourni)'
               WHEN 3 THEN '育児休暇' ELSE 'RTT' END
FROM generate_series(1, 2000) AS i;

CREATE FUNCTION hr.seniority_years(hire date, at date) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT extract(year FROM age(at, hire))::integer $$;

CREATE FUNCTION hr.set_write_date() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.write_date := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER employee_write_date BEFORE UPDATE ON hr.employee
    FOR EACH ROW EXECUTE FUNCTION hr.set_write_date();

CREATE VIEW hr.employee_directory AS
    SELECT e.id, e.name, d.name AS department, e.work_email,
           hr.seniority_years(e.hire_date, date '2025-01-01') AS seniority
    FROM hr.employee AS e
    LEFT JOIN hr.department AS d ON d.id = e.department_id
    WHERE e.active;

-------------------------------------------------------------------------------------------
-- "Odd Schema": identifiers that need quoting.

CREATE TABLE "Odd Schema"."Mixed Case" (
    "Id" integer PRIMARY KEY,
    "Value" text,
    "select" boolean,
    "ünïcödé" text,
    "with space" numeric(8, 3),
    "quote""d" varchar(20)
);
INSERT INTO "Odd Schema"."Mixed Case"
SELECT i, CASE WHEN i % 4 = 0 THEN NULL ELSE 'Valeur ' || i END, i % 2 = 0, 'ü' || i, i / 8.0,
       CASE WHEN i % 3 = 0 THEN 'q"' || i END
FROM generate_series(1, 25) AS i;
