-- An Odoo-like database, generated server-side, deterministically, for demos and benchmarks.
--
--   createdb demo_prod
--   psql -X -q -v ON_ERROR_STOP=1 -v scale=0.02 -d demo_prod -f contrib/gen-odoo-db.sql
--
-- scale=1 (the default) gives a database whose plain pg_dump is about 500 MB; the size is
-- proportional to the scale (0.02: about 10 MB). Tables, columns, types, indexes and foreign
-- keys follow Odoo 17's: partners, users, products, sale orders and lines, invoices and journal
-- items, chatter messages with HTML bodies, attachments (filestore names and checksums),
-- translated jsonb names, system parameters, modules and crons. The text is made of words and
-- sentences chosen with md5-based hashes of the row number, so it compresses like real data
-- (not like padding) and every run gives the same rows in the same order. Existing tables of
-- the same names are dropped first. It ends with ANALYZE; `-v vacuum=1` makes that a
-- VACUUM (FREEZE, ANALYZE) instead (every page written once more: slower, but the database is
-- then as settled as a long-running one). Takes about 40 s at scale 1 on 2 cores.

\set ON_ERROR_STOP 1
\if :{?scale}
\else
\set scale 1
\endif
\if :{?vacuum}
\else
\set vacuum 0
\endif

SET client_min_messages = warning;
SET synchronous_commit = off;  -- this session only: generation is not what is measured
SET maintenance_work_mem = '256MB';
SET work_mem = '64MB';

-- Row counts for the scale (fixed-size tables are not scaled).
SELECT greatest(25, round(50000 * :scale))::int  AS n_partner,
       greatest(5, round(350 * :scale))::int     AS n_user,
       greatest(2, round(10000 * :scale))::int   AS n_product,
       greatest(2, round(60000 * :scale))::int   AS n_order,
       greatest(4, round(300000 * :scale))::int  AS n_order_line,
       greatest(2, round(75000 * :scale))::int   AS n_move,
       greatest(6, round(375000 * :scale))::int  AS n_move_line,
       greatest(4, round(280000 * :scale))::int  AS n_message,
       greatest(2, round(42000 * :scale))::int   AS n_attachment,
       greatest(4, round(210000 * :scale))::int  AS n_tracking,
       greatest(4, round(125000 * :scale))::int  AS n_model_data
\gset

-- Vocabularies ------------------------------------------------------------------------------
\set first_names '{James,Mary,John,Patricia,Robert,Jennifer,Michael,Linda,William,Elizabeth,David,Barbara,Richard,Susan,Joseph,Jessica,Thomas,Sarah,Charles,Karen,Christopher,Nancy,Daniel,Lisa,Matthew,Betty,Anthony,Margaret,Mark,Sandra,Pierre,Marie,Jean,Nathalie,Philippe,Isabelle,Nicolas,Sophie,Julien,Camille,Lukas,Anna,Jonas,Lea,Marco,Giulia,Luca,Francesca,Javier,Lucia,Carlos,Elena,Sven,Ingrid,Pieter,Annelies,Tomasz,Agnieszka,Mehdi,Yasmine,Kenji,Aiko,Emma,Noah}'
\set last_names '{Smith,Johnson,Williams,Brown,Jones,Garcia,Miller,Davis,Rodriguez,Martinez,Hernandez,Lopez,Wilson,Anderson,Taylor,Moore,Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand,Leroy,Moreau,Simon,Laurent,Lefebvre,Michel,Muller,Schmidt,Schneider,Fischer,Weber,Meyer,Wagner,Becker,Rossi,Russo,Ferrari,Esposito,Bianchi,Romano,Janssens,Peeters,Maes,Jacobs,Mertens,Willems,Claes,Goossens,Nowak,Kowalski,Lindqvist,Andersson,Novak,Horvat,Silva,Santos,Ferreira,Pereira,Tanaka,Suzuki}'
\set company_words '{Acme,Global,Nordic,Atlas,Summit,Pioneer,Horizon,Vertex,Quantum,Sterling,Evergreen,Blue River,Red Oak,Silverline,Northwind,Contoso,Fabrikam,Lakeside,Granite,Harbor,Meridian,Crescent,Alpine,Coastal,Union,Royal,Metro,Prime,Delta,Orion,Apex,Keystone}'
\set company_kinds '{Consulting,Logistics,Foods,Construction,Software,Trading,Industries,Distribution,Services,Engineering,Furniture,Textiles,Electronics,Wines,Pharma,Solutions}'
\set company_forms '{SA,SRL,SARL,SAS,GmbH,BV,NV,Ltd,Inc.,LLC,AG,Oy,AB,S.p.A.,S.L.,Sp. z o.o.}'
\set streets '{Main Street,High Street,Rue de la Paix,Avenue Louise,Bahnhofstrasse,Via Roma,Calle Mayor,Kerkstraat,Station Road,Church Lane,Park Avenue,Rue du Commerce,Chaussee de Charleroi,Hauptstrasse,Corso Italia,Gran Via,Market Square,Mill Road,Victoria Road,Boulevard Haussmann,Rue Royale,Schillerstrasse,Via Garibaldi,Plaza de Espana,Dorpsstraat,Oak Street,Maple Avenue,Cedar Lane,Quai des Usines,Rue Neuve,Kings Road,Queensway}'
\set cities '{Brussels,Antwerp,Ghent,Liege,Namur,Paris,Lyon,Marseille,Lille,Toulouse,Berlin,Hamburg,Munich,Cologne,Frankfurt,Amsterdam,Rotterdam,Utrecht,Madrid,Barcelona,Valencia,Rome,Milan,Turin,London,Manchester,Leeds,Dublin,Lisbon,Porto,Vienna,Zurich,Geneva,Warsaw,Krakow,Prague,Stockholm,Oslo,Copenhagen,Helsinki,Luxembourg,New York,Chicago,Boston,Montreal,Toronto,Tokyo,Osaka}'
\set domains '{example.com,mail.be,post.fr,web.de,example.org,company.net,outlook.test,gmx.test,corp.example,shop.example}'
\set langs '{en_US,fr_FR,fr_BE,nl_BE,de_DE,en_GB,es_ES,it_IT}'
\set tzs '{Europe/Brussels,Europe/Paris,Europe/Berlin,Europe/Amsterdam,Europe/London,Europe/Madrid,Europe/Rome,America/New_York}'
\set products_en '{Chair,Desk,Lamp,Cabinet,Shelf,Table,Drawer,Sofa,Monitor,Keyboard,Mouse,Headset,Printer,Cable,Adapter,Router,Notebook,Pen,Stapler,Folder,Binder,Envelope,Box,Pallet,Screw,Bolt,Hinge,Bracket,Panel,Door,Window,Tile,Coffee,Tea,Sugar,Water,Juice,Bread,Cheese,Wine,Service Hour,Consulting Day,Training,Support Plan,Subscription,License,Installation,Delivery}'
\set products_fr '{Chaise,Bureau,Lampe,Armoire,Etagere,Table,Tiroir,Canape,Ecran,Clavier,Souris,Casque,Imprimante,Cable,Adaptateur,Routeur,Cahier,Stylo,Agrafeuse,Chemise,Classeur,Enveloppe,Boite,Palette,Vis,Boulon,Charniere,Equerre,Panneau,Porte,Fenetre,Carreau,Cafe,The,Sucre,Eau,Jus,Pain,Fromage,Vin,Heure de service,Journee de conseil,Formation,Contrat de support,Abonnement,Licence,Installation,Livraison}'
\set adjectives_en '{Large,Small,Medium,Premium,Basic,Deluxe,Compact,Ergonomic,Wooden,Steel,Black,White,Blue,Red,Green,Oak,Industrial,Modern,Classic,Eco}'
\set adjectives_fr '{grand,petit,moyen,premium,basique,de luxe,compact,ergonomique,en bois,en acier,noir,blanc,bleu,rouge,vert,en chene,industriel,moderne,classique,eco}'
\set words '{the,a,to,of,and,we,you,for,is,in,on,this,please,with,our,your,be,will,it,as,that,at,by,from,are,have,can,not,all,order,invoice,payment,delivery,customer,thank you,regards,has,been,would,could,should,may,if,when,so,but,or,they,these,also,only,still,again,already,today,tomorrow,next,last,first,new,same,other,more,less,one,two,three,some,any,each,several,quotation,product,products,price,prices,discount,amount,total,balance,account,bank,transfer,reference,date,deadline,week,month,year,meeting,call,email,message,document,attached,attachment,contract,agreement,terms,conditions,warehouse,stock,shipment,package,pallet,truck,carrier,address,office,team,manager,sales,purchase,accounting,project,task,issue,ticket,request,question,answer,update,status,confirmation,confirmed,validated,cancelled,sent,received,paid,due,overdue,reminder,follow-up,feedback,review,approval,approved,budget,forecast,report,analysis,schedule,planning,installation,training,support,service,maintenance,repair,warranty,return,refund,credit,note,tax,VAT,rate,currency,euro,dollar,was,were,must,had,being,do,does,did,need,needs,want,send,check,checked,find,found,see,confirm,prepare,deliver,ship,pay,receive,include,includes,provide,contact,let us know,best,final,current,previous,following,additional,urgent,important,possible,available,correct,wrong,missing,late,early,yesterday,soon,well,about,before,after,during,until,per,because,no,every,many,few,part,full,partial,quantity,unit,units,item,items,line,lines,number,copy,version,draft,signed,PDF,portal,link,online,customer portal,sales order,purchase order,credit note,bank statement,journal entry,delivery slip,pro-forma,down payment,lead time,unit price,payment terms,due date}'
\set mimetypes '{application/pdf,application/pdf,application/pdf,image/png,image/jpeg,image/jpeg,text/plain,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.openxmlformats-officedocument.wordprocessingml.document,application/xml,text/csv,image/svg+xml}'
\set extensions '{pdf,pdf,pdf,png,jpg,jpg,txt,xlsx,docx,xml,csv,svg}'

-- A pool of 2048 sentences made of those words, as 8 arrays of 256 (indexed by one byte of a
-- hash: picking from a constant array this small is fast).
CREATE TEMP TABLE _sentence AS
SELECT n, upper(left(s, 1)) || substr(s, 2) || (ARRAY['.', '.', '.', '.', '!', '?', '.', ':'])[1 + n % 8] AS s
FROM (SELECT n, (SELECT string_agg(w.a[1 + floor(cardinality(w.a) * ((get_byte(b, 0) * 256 + get_byte(b, 1)) / 65536.0) ^ 2)::int], ' ' ORDER BY k)
                 FROM (SELECT k, decode(md5(n::text || 'w' || k), 'hex') AS b
                       FROM generate_series(1, 4 + get_byte(decode(md5(n::text), 'hex'), 0) % 13) k) x,
                      (SELECT :'words'::text[] AS a) w) AS s
      FROM generate_series(0, 2047) n) x;

SELECT array_agg(s ORDER BY n) FILTER (WHERE n / 256 = 0) AS s0,
       array_agg(s ORDER BY n) FILTER (WHERE n / 256 = 1) AS s1,
       array_agg(s ORDER BY n) FILTER (WHERE n / 256 = 2) AS s2,
       array_agg(s ORDER BY n) FILTER (WHERE n / 256 = 3) AS s3,
       array_agg(s ORDER BY n) FILTER (WHERE n / 256 = 4) AS s4,
       array_agg(s ORDER BY n) FILTER (WHERE n / 256 = 5) AS s5,
       array_agg(s ORDER BY n) FILTER (WHERE n / 256 = 6) AS s6,
       array_agg(s ORDER BY n) FILTER (WHERE n / 256 = 7) AS s7
FROM _sentence
\gset
DROP TABLE _sentence;

-- Tables -----------------------------------------------------------------------------------
DROP TABLE IF EXISTS ir_attachment, mail_tracking_value, ir_model_data, mail_message, account_move_line, account_move,
    account_account, account_journal, sale_order_line, sale_order, product_product,
    product_template, product_category, res_users, res_partner, res_country, res_currency,
    res_company, ir_config_parameter, ir_module_module, ir_cron CASCADE;

CREATE TABLE res_currency (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    symbol varchar NOT NULL,
    full_name jsonb,
    rounding numeric,
    decimal_places integer,
    active boolean,
    position varchar,
    create_uid integer, create_date timestamp without time zone,
    write_uid integer, write_date timestamp without time zone
);
INSERT INTO res_currency (id, name, symbol, full_name, rounding, decimal_places, active, position,
                          create_uid, create_date, write_uid, write_date)
SELECT i, c[1], c[2], jsonb_build_object('en_US', c[3], 'fr_FR', c[4]), 0.01, 2, i <= 3,
       CASE WHEN c[1] = 'USD' OR c[1] = 'GBP' THEN 'before' ELSE 'after' END,
       1, timestamp '2019-03-01 09:00:00', 1, timestamp '2019-03-01 09:00:00'
FROM (VALUES (1, ARRAY['EUR', '€', 'Euro', 'Euro']), (2, ARRAY['USD', '$', 'US Dollar', 'Dollar americain']),
             (3, ARRAY['GBP', '£', 'Pound Sterling', 'Livre sterling']), (4, ARRAY['CHF', 'CHF', 'Swiss Franc', 'Franc suisse']),
             (5, ARRAY['JPY', '¥', 'Japanese Yen', 'Yen japonais']), (6, ARRAY['PLN', 'zł', 'Polish Zloty', 'Zloty polonais'])) v(i, c);

CREATE TABLE res_country (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    code varchar(2) NOT NULL,
    phone_code integer,
    currency_id integer,
    address_format text,
    create_date timestamp without time zone, write_date timestamp without time zone
);
INSERT INTO res_country (id, name, code, phone_code, currency_id, address_format, create_date, write_date)
SELECT i, jsonb_build_object('en_US', en, 'fr_FR', fr, 'nl_NL', nl), code, phone, cur,
       E'%(street)s\n%(street2)s\n%(zip)s %(city)s\n%(country_name)s',
       timestamp '2019-03-01 09:00:00', timestamp '2019-03-01 09:00:00'
FROM (VALUES (1, 'Belgium', 'Belgique', 'België', 'BE', 32, 1), (2, 'France', 'France', 'Frankrijk', 'FR', 33, 1),
             (3, 'Germany', 'Allemagne', 'Duitsland', 'DE', 49, 1), (4, 'Netherlands', 'Pays-Bas', 'Nederland', 'NL', 31, 1),
             (5, 'Spain', 'Espagne', 'Spanje', 'ES', 34, 1), (6, 'Italy', 'Italie', 'Italië', 'IT', 39, 1),
             (7, 'United Kingdom', 'Royaume-Uni', 'Verenigd Koninkrijk', 'GB', 44, 3),
             (8, 'Switzerland', 'Suisse', 'Zwitserland', 'CH', 41, 4), (9, 'Poland', 'Pologne', 'Polen', 'PL', 48, 6),
             (10, 'United States', 'États-Unis', 'Verenigde Staten', 'US', 1, 2),
             (11, 'Japan', 'Japon', 'Japan', 'JP', 81, 5), (12, 'Luxembourg', 'Luxembourg', 'Luxemburg', 'LU', 352, 1))
     v(i, en, fr, nl, code, phone, cur);

CREATE TABLE res_company (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    partner_id integer NOT NULL,
    currency_id integer NOT NULL,
    sequence integer,
    email varchar, phone varchar, vat varchar, company_registry varchar,
    report_header jsonb, report_footer jsonb,
    create_uid integer, create_date timestamp without time zone,
    write_uid integer, write_date timestamp without time zone
);
INSERT INTO res_company (id, name, partner_id, currency_id, sequence, email, phone, vat, company_registry,
                         report_header, report_footer, create_uid, create_date, write_uid, write_date)
VALUES (1, 'My Company (Brussels)', 1, 1, 10, 'info@mycompany.example', '+32 2 290 34 90', 'BE0477472701', '0477.472.701',
        '{"en_US": "Your partner for office furniture", "fr_FR": "Votre partenaire en mobilier de bureau"}',
        '{"en_US": "IBAN BE71 0961 2345 6769 - BIC GKCCBEBB", "fr_FR": "IBAN BE71 0961 2345 6769 - BIC GKCCBEBB"}',
        1, '2019-03-01 09:00:00', 2, '2023-06-12 14:21:07'),
       (2, 'My Company (Paris)', 2, 1, 20, 'paris@mycompany.example', '+33 1 84 88 12 00', 'FR23334175221', '334 175 221',
        NULL, NULL, 2, '2021-01-04 10:12:45', 2, '2021-01-04 10:12:45');

CREATE TABLE res_partner (
    id serial PRIMARY KEY,
    name varchar,
    complete_name varchar,
    company_id integer,
    create_date timestamp without time zone,
    title integer,
    parent_id integer,
    ref varchar,
    lang varchar,
    tz varchar,
    user_id integer,
    vat varchar,
    company_registry varchar,
    website varchar,
    function varchar,
    type varchar,
    street varchar, street2 varchar, zip varchar, city varchar,
    state_id integer,
    country_id integer,
    partner_latitude numeric(10, 7), partner_longitude numeric(10, 7),
    email varchar, phone varchar, mobile varchar,
    commercial_company_name varchar, company_name varchar,
    color integer,
    commercial_partner_id integer,
    is_company boolean,
    active boolean,
    employee boolean,
    customer_rank integer, supplier_rank integer,
    comment text,
    barcode varchar,
    signup_token varchar, signup_type varchar, signup_expiration timestamp without time zone,
    create_uid integer, write_uid integer, write_date timestamp without time zone
);
-- Every 5th partner is a company; the 4 after it are its contacts.
INSERT INTO res_partner
SELECT i,
       CASE WHEN is_co THEN co_name ELSE person END,
       CASE WHEN is_co THEN co_name
            ELSE (SELECT (:'company_words'::text[])[1 + get_byte(hp, 0) % 32] || ' ' || (:'company_kinds'::text[])[1 + get_byte(hp, 1) % 16]
                         || ' ' || (:'company_forms'::text[])[1 + get_byte(hp, 2) % 16]) || ', ' || person END,
       CASE WHEN get_byte(h, 9) < 20 THEN 2 ELSE 1 END,
       created,
       CASE WHEN is_co OR get_byte(h, 10) < 128 THEN NULL ELSE 1 + get_byte(h, 10) % 4 END,
       CASE WHEN is_co THEN NULL ELSE company END,
       CASE WHEN is_co AND get_byte(h, 11) < 90 THEN 'C' || lpad((i / 5)::text, 5, '0') END,
       (:'langs'::text[])[1 + get_byte(h, 12) % 8],
       (:'tzs'::text[])[1 + get_byte(h, 12) % 8],
       CASE WHEN get_byte(h, 13) < 100 THEN 2 + get_byte(h, 14) % least(40, :n_user - 1) END,
       CASE WHEN is_co AND get_byte(h, 3) < 200 THEN (ARRAY['BE0', 'FR', 'DE', 'NL', 'ES', 'IT', 'GB', 'CHE-'])[1 + country_ix % 8]
                 || lpad((('x' || substr(md5(i::text || 'vat'), 1, 8))::bit(32)::bigint % 1000000000)::text, 9, '0') END,
       NULL,
       CASE WHEN is_co AND get_byte(h, 4) < 160 THEN 'https://www.' || lower(replace(co_name_short, ' ', '')) || '.example' END,
       CASE WHEN NOT is_co AND get_byte(h, 5) < 140 THEN (ARRAY['Sales Manager', 'CEO', 'Accountant', 'Purchase Officer',
                 'Office Manager', 'Consultant', 'Logistics Coordinator', 'CFO', 'Project Manager', 'Assistant'])[1 + get_byte(h, 5) % 10] END,
       CASE WHEN is_co THEN 'contact' ELSE (ARRAY['contact', 'contact', 'contact', 'invoice', 'delivery', 'other'])[1 + get_byte(h, 6) % 6] END,
       (1 + get_byte(h, 7) % 250)::text || ' ' || (:'streets'::text[])[1 + get_byte(h, 8) % 32],
       CASE WHEN get_byte(h, 15) < 30 THEN (ARRAY['Building B', '2nd floor', 'PO Box 12', 'Unit 4', 'Bte 3'])[1 + get_byte(h, 15) % 5] END,
       lpad((1000 + (get_byte(h, 1) * 256 + get_byte(h, 2)) % 9000)::text, 4, '0'),
       (:'cities'::text[])[1 + get_byte(h, 14) % 48],
       NULL,
       1 + country_ix,
       CASE WHEN get_byte(h, 2) < 60 THEN round((45 + get_byte(h, 3) / 25.6 + get_byte(h, 4) / 6553.6)::numeric, 7) END,
       CASE WHEN get_byte(h, 2) < 60 THEN round((-3 + get_byte(h, 5) / 20.0 + get_byte(h, 6) / 5120.0)::numeric, 7) END,
       CASE WHEN get_byte(h, 0) < 235 THEN
           CASE WHEN is_co THEN (ARRAY['info', 'contact', 'sales', 'office', 'accounting'])[1 + get_byte(h, 1) % 5] || '@'
                                || lower(replace(co_name_short, ' ', '')) || '.example'
                ELSE lower(first) || '.' || lower(last) || (CASE WHEN get_byte(h, 7) < 64 THEN (i % 100)::text ELSE '' END)
                     || '@' || (:'domains'::text[])[1 + get_byte(h, 8) % 10] END END,
       CASE WHEN get_byte(h, 9) < 200 THEN '+' || (ARRAY['32', '33', '49', '31', '34', '39', '44', '41'])[1 + country_ix % 8]
            || ' ' || (10 + get_byte(h, 10) % 90)::text || ' ' || lpad(((get_byte(h, 11) * 256 + get_byte(h, 12)) % 1000)::text, 3, '0')
            || ' ' || lpad((get_byte(h, 13) % 100)::text, 2, '0') || ' ' || lpad((get_byte(h, 14) % 100)::text, 2, '0') END,
       CASE WHEN NOT is_co AND get_byte(h, 15) < 120 THEN '+' || (ARRAY['32', '33', '49', '31', '34', '39', '44', '41'])[1 + country_ix % 8]
            || ' 4' || lpad(((get_byte(h, 3) * 256 + get_byte(h, 4)) % 100)::text, 2, '0') || ' '
            || lpad(((get_byte(h, 5) * 256 + get_byte(h, 6)) % 1000000)::text, 6, '0') END,
       co_name_short, NULL,
       get_byte(h, 10) % 12,
       CASE WHEN is_co THEN i ELSE company END,
       is_co,
       get_byte(h, 11) > 8,
       false,
       CASE WHEN get_byte(h, 12) < 180 THEN 1 + get_byte(h, 13) % 30 ELSE 0 END,
       CASE WHEN get_byte(h, 12) > 200 THEN 1 + get_byte(h, 14) % 10 ELSE 0 END,
       CASE WHEN get_byte(h, 13) < 25 THEN '<p>' || (:'s0'::text[])[1 + get_byte(h, 0)] || ' ' || (:'s1'::text[])[1 + get_byte(h, 1)] || '</p>' END,
       NULL,
       NULL, NULL, NULL,
       CASE WHEN i < 50 THEN 1 ELSE 2 + get_byte(h, 3) % 20 END,
       CASE WHEN i < 50 THEN 1 ELSE 2 + get_byte(h, 4) % 20 END,
       created + (get_byte(h, 5) * interval '3 days')
FROM (SELECT i, h, hp, is_co, country_ix, created,
             (:'first_names'::text[])[1 + get_byte(h, 0) % 64] AS first,
             (:'last_names'::text[])[1 + get_byte(h, 1) % 64] AS last,
             (:'first_names'::text[])[1 + get_byte(h, 0) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(h, 1) % 64] AS person,
             (:'company_words'::text[])[1 + get_byte(hp, 0) % 32] || ' ' || (:'company_kinds'::text[])[1 + get_byte(hp, 1) % 16] AS co_name_short,
             (:'company_words'::text[])[1 + get_byte(hp, 0) % 32] || ' ' || (:'company_kinds'::text[])[1 + get_byte(hp, 1) % 16]
                 || ' ' || (:'company_forms'::text[])[1 + get_byte(hp, 2) % 16] AS co_name,
             CASE WHEN is_co THEN NULL ELSE company END AS company
      FROM (SELECT i, decode(md5(i::text || 'partner'), 'hex') AS h,
                   decode(md5(((i - 1) / 5 * 5 + 1)::text || 'company'), 'hex') AS hp,
                   (i - 1) % 5 = 0 AS is_co,
                   (i - 1) / 5 * 5 + 1 AS company,
                   get_byte(decode(md5(((i - 1) / 5 * 5 + 1)::text || 'company'), 'hex'), 3) % 12 AS country_ix,
                   timestamp '2019-03-01 09:00:00' + (i::bigint * 187200000 / :n_partner) * interval '1 second'
                       + get_byte(decode(md5(i::text || 'partner'), 'hex'), 15) * interval '37 seconds' AS created
            FROM generate_series(1, :n_partner) i
            OFFSET 0) s0
      OFFSET 0) s;
SELECT setval('res_partner_id_seq', :n_partner) AS _ \gset

CREATE TABLE res_users (
    id serial PRIMARY KEY,
    company_id integer NOT NULL,
    partner_id integer NOT NULL,
    active boolean DEFAULT true,
    create_date timestamp without time zone,
    login varchar NOT NULL,
    password varchar,
    action_id integer,
    create_uid integer, write_uid integer,
    signature jsonb,
    share boolean,
    write_date timestamp without time zone,
    totp_secret varchar,
    notification_type varchar NOT NULL,
    odoobot_state varchar,
    sale_team_id integer,
    karma integer
);
INSERT INTO res_users
SELECT i, 1, i * 5, i < 3 OR get_byte(h, 0) > 20,
       timestamp '2019-03-01 09:00:00' + i * interval '5 days' + get_byte(h, 1) * interval '1 minute',
       CASE WHEN i = 1 THEN '__system__' WHEN i = 2 THEN 'admin'
            ELSE lower(p.name_first) || '.' || lower(p.name_last) || i::text || '@mycompany.example' END,
       '$pbkdf2-sha512$600000$' || encode(decode(md5(i::text || 'salt'), 'hex'), 'base64') || '$'
           || encode(decode(md5(i::text || 'pw1') || md5(i::text || 'pw2') || md5(i::text || 'pw3') || md5(i::text || 'pw4'), 'hex'), 'base64'),
       NULL, 1, 2,
       jsonb_build_object('en_US', '<span data-o-mail-quote="1">-- <br data-o-mail-quote="1">' || p.name_first || ' ' || p.name_last || '</span>'),
       i > 3 AND get_byte(h, 2) < 64,
       timestamp '2023-01-01 00:00:00' + get_byte(h, 3) * interval '1 day',
       NULL,
       CASE WHEN get_byte(h, 4) < 200 THEN 'inbox' ELSE 'email' END,
       CASE WHEN get_byte(h, 5) < 200 THEN 'onboarding_emoji' ELSE 'disabled' END,
       CASE WHEN get_byte(h, 6) < 128 THEN 1 + get_byte(h, 6) % 3 END,
       get_byte(h, 7) * 10
FROM (SELECT i, decode(md5(i::text || 'user'), 'hex') AS h FROM generate_series(1, :n_user) i OFFSET 0) s
CROSS JOIN LATERAL (SELECT (:'first_names'::text[])[1 + get_byte(decode(md5((i * 5)::text || 'partner'), 'hex'), 0) % 64] AS name_first,
                           (:'last_names'::text[])[1 + get_byte(decode(md5((i * 5)::text || 'partner'), 'hex'), 1) % 64] AS name_last) p;
SELECT setval('res_users_id_seq', :n_user) AS _ \gset

CREATE TABLE product_category (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    complete_name varchar,
    parent_id integer,
    parent_path varchar,
    create_date timestamp without time zone, write_date timestamp without time zone
);
INSERT INTO product_category (id, name, complete_name, parent_id, parent_path, create_date, write_date)
VALUES (1, 'All', 'All', NULL, '1/', '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (2, 'Saleable', 'All / Saleable', 1, '1/2/', '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (3, 'Office Furniture', 'All / Saleable / Office Furniture', 2, '1/2/3/', '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (4, 'Office Supplies', 'All / Saleable / Office Supplies', 2, '1/2/4/', '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (5, 'IT Equipment', 'All / Saleable / IT Equipment', 2, '1/2/5/', '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (6, 'Hardware', 'All / Saleable / Hardware', 2, '1/2/6/', '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (7, 'Food & Beverage', 'All / Saleable / Food & Beverage', 2, '1/2/7/', '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (8, 'Services', 'All / Services', 1, '1/8/', '2019-03-01 09:00:00', '2019-03-01 09:00:00');

CREATE TABLE product_template (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    sequence integer,
    description jsonb,
    description_purchase jsonb,
    description_sale jsonb,
    detailed_type varchar NOT NULL,
    type varchar,
    categ_id integer NOT NULL,
    list_price numeric,
    volume numeric,
    weight numeric,
    sale_ok boolean,
    purchase_ok boolean,
    uom_id integer NOT NULL,
    uom_po_id integer NOT NULL,
    company_id integer,
    active boolean,
    color integer,
    default_code varchar,
    can_image_1024_be_zoomed boolean,
    has_configurable_attributes boolean,
    invoice_policy varchar,
    create_uid integer, create_date timestamp without time zone,
    write_uid integer, write_date timestamp without time zone
);
INSERT INTO product_template
SELECT i,
       jsonb_build_object('en_US', adj_en || ' ' || noun_en || CASE WHEN get_byte(h, 2) < 128 THEN ' ' || (get_byte(h, 3) % 40 + 1)::text ELSE '' END,
                          'fr_FR', noun_fr || ' ' || adj_fr || CASE WHEN get_byte(h, 2) < 128 THEN ' ' || (get_byte(h, 3) % 40 + 1)::text ELSE '' END),
       get_byte(h, 4) % 20,
       CASE WHEN get_byte(h, 5) < 60 THEN jsonb_build_object('en_US', '<p>' || (:'s2'::text[])[1 + get_byte(h, 6)] || ' ' || (:'s3'::text[])[1 + get_byte(h, 7)] || '</p>') END,
       CASE WHEN get_byte(h, 5) > 230 THEN jsonb_build_object('en_US', (:'s4'::text[])[1 + get_byte(h, 8)]) END,
       CASE WHEN get_byte(h, 9) < 150 THEN jsonb_build_object('en_US', (:'s5'::text[])[1 + get_byte(h, 10)] || ' ' || (:'s6'::text[])[1 + get_byte(h, 11)],
                                                               'fr_FR', (:'s7'::text[])[1 + get_byte(h, 10)] || ' ' || (:'s6'::text[])[1 + get_byte(h, 11)]) END,
       dtype, CASE WHEN dtype = 'service' THEN 'service' ELSE 'consu' END,
       CASE WHEN dtype = 'service' THEN 8 ELSE 3 + get_byte(h, 0) % 5 END,
       round((get_byte(h, 12) * 256 + get_byte(h, 13)) / 40.0 + 0.5, 2),
       CASE WHEN dtype = 'service' THEN 0 ELSE round(get_byte(h, 14) / 100.0, 3) END,
       CASE WHEN dtype = 'service' THEN 0 ELSE round(get_byte(h, 15) / 7.0, 2) END,
       get_byte(h, 1) > 10, get_byte(h, 1) > 60,
       CASE WHEN dtype = 'service' THEN 4 ELSE 1 END, CASE WHEN dtype = 'service' THEN 4 ELSE 1 END,
       CASE WHEN get_byte(h, 2) < 16 THEN 2 END,
       get_byte(h, 3) > 12,
       0,
       CASE WHEN get_byte(h, 4) < 220 THEN upper(left(noun_en, 3)) || '-' || lpad(i::text, 6, '0') END,
       get_byte(h, 5) < 100,
       get_byte(h, 6) < 30,
       CASE WHEN get_byte(h, 7) < 128 THEN 'order' ELSE 'delivery' END,
       2, timestamp '2019-03-02 10:00:00' + (i::bigint * 144000000 / :n_product) * interval '1 second',
       2, timestamp '2019-03-02 10:00:00' + (i::bigint * 144000000 / :n_product) * interval '1 second' + get_byte(h, 8) * interval '2 days'
FROM (SELECT i, h,
             (:'adjectives_en'::text[])[1 + get_byte(h, 0) % 20] AS adj_en,
             (:'adjectives_fr'::text[])[1 + get_byte(h, 0) % 20] AS adj_fr,
             (:'products_en'::text[])[1 + get_byte(h, 1) % 48] AS noun_en,
             (:'products_fr'::text[])[1 + get_byte(h, 1) % 48] AS noun_fr,
             CASE WHEN get_byte(h, 1) % 48 >= 40 THEN 'service' WHEN get_byte(h, 2) < 170 THEN 'product' ELSE 'consu' END AS dtype
      FROM (SELECT i, decode(md5(i::text || 'product'), 'hex') AS h FROM generate_series(1, :n_product) i OFFSET 0) s0
      OFFSET 0) s;
SELECT setval('product_template_id_seq', :n_product) AS _ \gset

CREATE TABLE product_product (
    id serial PRIMARY KEY,
    product_tmpl_id integer NOT NULL,
    default_code varchar,
    barcode varchar,
    combination_indices varchar,
    volume numeric,
    weight numeric,
    active boolean,
    can_image_variant_1024_be_zoomed boolean,
    create_uid integer, create_date timestamp without time zone,
    write_uid integer, write_date timestamp without time zone
);
INSERT INTO product_product
SELECT id, id, default_code,
       CASE WHEN sale_ok AND id % 3 <> 0 THEN '54' || lpad((('x' || substr(md5(id::text || 'ean'), 1, 8))::bit(32)::bigint % 100000000000)::text, 11, '0') END,
       '', volume, weight, active, false, create_uid, create_date, write_uid, write_date
FROM product_template;
SELECT setval('product_product_id_seq', :n_product) AS _ \gset

CREATE TABLE sale_order (
    id serial PRIMARY KEY,
    campaign_id integer, source_id integer, medium_id integer,
    company_id integer NOT NULL,
    partner_id integer NOT NULL,
    partner_invoice_id integer NOT NULL,
    partner_shipping_id integer NOT NULL,
    fiscal_position_id integer,
    payment_term_id integer,
    pricelist_id integer,
    currency_id integer,
    user_id integer,
    team_id integer,
    create_uid integer, write_uid integer,
    access_token varchar,
    name varchar NOT NULL,
    state varchar,
    client_order_ref varchar,
    origin varchar,
    reference varchar,
    signed_by varchar,
    invoice_status varchar,
    validity_date date,
    note jsonb,
    currency_rate numeric,
    amount_untaxed numeric,
    amount_tax numeric,
    amount_total numeric,
    require_signature boolean,
    require_payment boolean,
    create_date timestamp without time zone,
    commitment_date timestamp without time zone,
    date_order timestamp without time zone NOT NULL,
    signed_on timestamp without time zone,
    write_date timestamp without time zone
);
INSERT INTO sale_order
SELECT i, NULL, NULL, NULL,
       CASE WHEN get_byte(h, 0) < 20 THEN 2 ELSE 1 END,
       partner, partner, CASE WHEN get_byte(h, 1) < 40 AND partner < :n_partner THEN partner + 1 ELSE partner END,
       CASE WHEN get_byte(h, 2) < 30 THEN 1 + get_byte(h, 2) % 3 END,
       1 + get_byte(h, 3) % 8,
       1,
       1,
       CASE WHEN get_byte(h, 4) < 250 THEN 3 + get_byte(h, 5) % least(40, :n_user - 2) END,
       1 + get_byte(h, 6) % 3,
       3 + get_byte(h, 5) % 40, 3 + get_byte(h, 7) % 40,
       CASE WHEN get_byte(h, 10) < 128 THEN substr(md5(i::text || 'token1'), 1, 8) || '-' || substr(md5(i::text || 'token1'), 9, 4) || '-4' || substr(md5(i::text || 'token1'), 13, 3)
           || '-a' || substr(md5(i::text || 'token1'), 16, 3) || '-' || substr(md5(i::text || 'token2'), 1, 12) END,
       'S' || lpad(i::text, 5, '0'),
       state,
       CASE WHEN get_byte(h, 8) < 50 THEN 'PO-' || (1000 + get_byte(h, 9) * 37)::text END,
       CASE WHEN get_byte(h, 10) < 15 THEN 'Website' END,
       NULL,
       CASE WHEN state = 'sale' AND get_byte(h, 11) < 100 THEN (:'first_names'::text[])[1 + get_byte(h, 12) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(h, 13) % 64] END,
       CASE state WHEN 'sale' THEN (ARRAY['invoiced', 'invoiced', 'to invoice', 'no'])[1 + get_byte(h, 14) % 4] ELSE 'no' END,
       (date_order + interval '30 days')::date,
       CASE WHEN get_byte(h, 15) < 80 THEN jsonb_build_object('en_US', '<p>' || (:'s1'::text[])[1 + get_byte(h, 0)] || '</p><p>' || (:'s4'::text[])[1 + get_byte(h, 2)] || '</p>') END,
       1.0,
       untaxed, round(untaxed * 0.21, 2), round(untaxed * 1.21, 2),
       true, get_byte(h, 1) < 128,
       date_order - interval '2 hours',
       CASE WHEN get_byte(h, 2) < 40 THEN date_order + interval '10 days' END,
       date_order,
       CASE WHEN state = 'sale' AND get_byte(h, 11) < 100 THEN date_order + interval '1 day' END,
       date_order + get_byte(h, 3) * interval '7 hours'
FROM (SELECT i, h,
             1 + ((get_byte(h, 12) * 65536 + get_byte(h, 13) * 256 + get_byte(h, 14)) % :n_partner) AS partner,
             timestamp '2019-04-01 08:00:00' + (i::bigint * 144000000 / :n_order) * interval '1 second' + get_byte(h, 15) * interval '17 minutes' AS date_order,
             CASE WHEN get_byte(h, 7) < 200 THEN 'sale' WHEN get_byte(h, 7) < 225 THEN 'cancel' WHEN get_byte(h, 7) < 240 THEN 'sent' ELSE 'draft' END AS state,
             round((get_byte(h, 8) * 256 + get_byte(h, 9)) / 9.0 + 10, 2) AS untaxed
      FROM (SELECT i, decode(md5(i::text || 'order'), 'hex') AS h FROM generate_series(1, :n_order) i OFFSET 0) s0
      OFFSET 0) s;
SELECT setval('sale_order_id_seq', :n_order) AS _ \gset

CREATE TABLE sale_order_line (
    id serial PRIMARY KEY,
    order_id integer NOT NULL,
    sequence integer,
    company_id integer,
    currency_id integer,
    order_partner_id integer,
    salesman_id integer,
    product_id integer,
    product_uom integer,
    linked_line_id integer,
    create_uid integer, write_uid integer,
    state varchar,
    display_type varchar,
    qty_delivered_method varchar,
    invoice_status varchar,
    analytic_distribution jsonb,
    name text NOT NULL,
    product_uom_qty numeric NOT NULL,
    price_unit numeric NOT NULL,
    discount numeric,
    price_subtotal numeric,
    price_tax double precision,
    price_total numeric,
    price_reduce_taxexcl numeric,
    price_reduce_taxinc numeric,
    qty_delivered numeric,
    qty_invoiced numeric,
    qty_to_invoice numeric,
    untaxed_amount_invoiced numeric,
    untaxed_amount_to_invoice numeric,
    is_downpayment boolean,
    is_expense boolean,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    customer_lead double precision NOT NULL
);
INSERT INTO sale_order_line
SELECT i, o, 10 * (1 + (i - 1) % 5) + get_byte(h, 0) % 3,
       1, 1,
       1 + ((get_byte(ho, 12) * 65536 + get_byte(ho, 13) * 256 + get_byte(ho, 14)) % :n_partner),
       CASE WHEN get_byte(ho, 4) < 250 THEN 3 + get_byte(ho, 5) % least(40, :n_user - 2) END,
       CASE WHEN is_note THEN NULL ELSE product END,
       CASE WHEN is_note THEN NULL ELSE 1 END,
       NULL, 3 + get_byte(ho, 5) % 40, 3 + get_byte(ho, 5) % 40,
       'sale',
       CASE WHEN is_note THEN (ARRAY['line_note', 'line_section'])[1 + get_byte(h, 1) % 2] END,
       CASE WHEN is_note THEN NULL ELSE 'stock_move' END,
       CASE WHEN is_note THEN 'no' ELSE (ARRAY['invoiced', 'invoiced', 'to invoice', 'no'])[1 + get_byte(ho, 14) % 4] END,
       CASE WHEN get_byte(h, 2) < 40 THEN jsonb_build_object((1 + get_byte(h, 3) % 12)::text, 100.0) END,
       CASE WHEN is_note THEN (:'s5'::text[])[1 + get_byte(h, 4)]
            ELSE '[' || upper(left((:'products_en'::text[])[1 + get_byte(hp, 1) % 48], 3)) || '-' || lpad(product::text, 6, '0') || '] '
                 || (:'adjectives_en'::text[])[1 + get_byte(hp, 0) % 20] || ' ' || (:'products_en'::text[])[1 + get_byte(hp, 1) % 48]
                 || CASE WHEN get_byte(h, 5) < 90 THEN E'\n' || (:'s6'::text[])[1 + get_byte(h, 6)] ELSE '' END END,
       qty, price, discount,
       round(qty * price * (1 - discount / 100), 2),
       round(qty * price * (1 - discount / 100) * 0.21, 2),
       round(qty * price * (1 - discount / 100) * 1.21, 2),
       round(price * (1 - discount / 100), 2),
       round(price * (1 - discount / 100) * 1.21, 2),
       CASE WHEN get_byte(h, 7) < 200 THEN qty ELSE 0 END,
       CASE WHEN get_byte(h, 8) < 170 THEN qty ELSE 0 END,
       CASE WHEN get_byte(h, 8) < 170 THEN 0 ELSE qty END,
       CASE WHEN get_byte(h, 8) < 170 THEN round(qty * price * (1 - discount / 100), 2) ELSE 0 END,
       CASE WHEN get_byte(h, 8) < 170 THEN 0 ELSE round(qty * price * (1 - discount / 100), 2) END,
       false, false,
       timestamp '2019-04-01 06:00:00' + (o::bigint * 144000000 / :n_order) * interval '1 second' + get_byte(ho, 15) * interval '17 minutes',
       timestamp '2019-04-01 06:00:00' + (o::bigint * 144000000 / :n_order) * interval '1 second' + get_byte(h, 9) * interval '5 hours',
       CASE WHEN get_byte(h, 10) < 200 THEN 0 ELSE get_byte(h, 10) % 15 END
FROM (SELECT i, h, o, decode(md5(o::text || 'order'), 'hex') AS ho,
             get_byte(h, 11) < 12 AS is_note,
             1 + (get_byte(h, 12) * 256 + get_byte(h, 13)) % :n_product AS product,
             decode(md5((1 + (get_byte(h, 12) * 256 + get_byte(h, 13)) % :n_product)::text || 'product'), 'hex') AS hp,
             (ARRAY[1, 1, 1, 2, 2, 3, 4, 5, 10, 12, 20, 24, 50, 100, 0.5, 1.5])[1 + get_byte(h, 14) % 16]::numeric AS qty,
             round((get_byte(h, 15) * 256 + get_byte(h, 0)) / 40.0 + 0.5, 2) AS price,
             (ARRAY[0, 0, 0, 0, 0, 0, 5, 10, 15, 2.5, 0, 0, 20, 0, 0, 0])[1 + get_byte(h, 1) % 16]::numeric AS discount
      FROM (SELECT i, decode(md5(i::text || 'sol'), 'hex') AS h,
                   1 + ((i - 1)::bigint * :n_order / :n_order_line)::int AS o
            FROM generate_series(1, :n_order_line) i OFFSET 0) s0
      OFFSET 0) s;
SELECT setval('sale_order_line_id_seq', :n_order_line) AS _ \gset

CREATE TABLE account_account (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    code varchar(64) NOT NULL,
    account_type varchar NOT NULL,
    company_id integer NOT NULL,
    reconcile boolean,
    create_date timestamp without time zone, write_date timestamp without time zone
);
INSERT INTO account_account (id, name, code, account_type, company_id, reconcile, create_date, write_date)
SELECT i, jsonb_build_object('en_US', en, 'fr_FR', fr), code, t, 1, t IN ('asset_receivable', 'liability_payable'),
       timestamp '2019-03-01 09:00:00', timestamp '2019-03-01 09:00:00'
FROM (VALUES (1, 'Customers', 'Clients', '400000', 'asset_receivable'), (2, 'Suppliers', 'Fournisseurs', '440000', 'liability_payable'),
             (3, 'Sales of goods', 'Ventes de marchandises', '700000', 'income'), (4, 'Sales of services', 'Prestations de services', '700100', 'income'),
             (5, 'VAT due 21%', 'TVA due 21%', '451000', 'liability_current'), (6, 'VAT deductible', 'TVA deductible', '411000', 'asset_current'),
             (7, 'Purchases of goods', 'Achats de marchandises', '604000', 'expense'), (8, 'Bank', 'Banque', '550001', 'asset_cash'),
             (9, 'Outstanding receipts', 'Paiements entrants en attente', '499001', 'asset_current'),
             (10, 'Office supplies', 'Fournitures de bureau', '612000', 'expense'), (11, 'Rent', 'Loyers', '610000', 'expense'),
             (12, 'Exchange difference', 'Differences de change', '654000', 'expense')) v(i, en, fr, code, t);

CREATE TABLE account_journal (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    code varchar(5) NOT NULL,
    type varchar NOT NULL,
    company_id integer NOT NULL,
    default_account_id integer,
    sequence integer,
    active boolean,
    create_date timestamp without time zone, write_date timestamp without time zone
);
INSERT INTO account_journal (id, name, code, type, company_id, default_account_id, sequence, active, create_date, write_date)
VALUES (1, '{"en_US": "Customer Invoices", "fr_FR": "Factures clients"}', 'INV', 'sale', 1, 3, 5, true, '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (2, '{"en_US": "Vendor Bills", "fr_FR": "Factures fournisseurs"}', 'BILL', 'purchase', 1, 7, 6, true, '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (3, '{"en_US": "Miscellaneous Operations", "fr_FR": "Operations diverses"}', 'MISC', 'general', 1, NULL, 9, true, '2019-03-01 09:00:00', '2019-03-01 09:00:00'),
       (4, '{"en_US": "Bank", "fr_FR": "Banque"}', 'BNK1', 'bank', 1, 8, 10, true, '2019-03-01 09:00:00', '2019-03-01 09:00:00');

CREATE TABLE account_move (
    id serial PRIMARY KEY,
    sequence_number integer,
    message_main_attachment_id integer,
    journal_id integer NOT NULL,
    company_id integer,
    payment_id integer,
    statement_line_id integer,
    tax_cash_basis_origin_move_id integer,
    auto_post_origin_id integer,
    secure_sequence_number integer,
    invoice_payment_term_id integer,
    partner_id integer,
    commercial_partner_id integer,
    partner_shipping_id integer,
    partner_bank_id integer,
    fiscal_position_id integer,
    currency_id integer NOT NULL,
    reversed_entry_id integer,
    invoice_user_id integer,
    invoice_incoterm_id integer,
    invoice_cash_rounding_id integer,
    create_uid integer, write_uid integer,
    sequence_prefix varchar,
    access_token varchar,
    name varchar,
    ref varchar,
    state varchar NOT NULL,
    move_type varchar NOT NULL,
    auto_post varchar NOT NULL,
    inalterable_hash varchar,
    payment_reference varchar,
    qr_code_method varchar,
    payment_state varchar,
    invoice_source_email varchar,
    invoice_partner_display_name varchar,
    invoice_origin varchar,
    date date NOT NULL,
    invoice_date date,
    invoice_date_due date,
    narration jsonb,
    amount_untaxed numeric,
    amount_tax numeric,
    amount_total numeric,
    amount_residual numeric,
    amount_untaxed_signed numeric,
    amount_tax_signed numeric,
    amount_total_signed numeric,
    amount_total_in_currency_signed numeric,
    amount_residual_signed numeric,
    quick_edit_total_amount numeric,
    is_storno boolean,
    always_tax_exigible boolean,
    to_check boolean,
    posted_before boolean,
    is_move_sent boolean,
    create_date timestamp without time zone,
    write_date timestamp without time zone
);
INSERT INTO account_move
SELECT i, seq, NULL, journal, 1, NULL, NULL, NULL, NULL, NULL,
       CASE WHEN journal IN (1, 2) THEN 1 + get_byte(h, 0) % 8 END,
       partner, CASE WHEN journal IN (1, 2) THEN (partner - 1) / 5 * 5 + 1 END, partner, NULL, NULL,
       CASE WHEN get_byte(h, 1) < 240 THEN 1 ELSE 2 END,
       NULL,
       CASE WHEN journal = 1 THEN 3 + get_byte(h, 2) % least(40, :n_user - 2) END,
       NULL, NULL, 3 + get_byte(h, 2) % 40, 3 + get_byte(h, 3) % 40,
       prefix,
       CASE WHEN journal = 1 THEN md5(i::text || 'move-token') END,
       CASE WHEN state = 'draft' THEN '/' ELSE prefix || lpad(seq::text, 5, '0') END,
       CASE WHEN journal = 2 THEN 'BILL-' || (get_byte(h, 4) * 256 + get_byte(h, 5))::text
            WHEN journal = 4 THEN (:'s0'::text[])[1 + get_byte(h, 4)] END,
       state, move_type, 'no', NULL,
       CASE WHEN journal = 1 THEN '+++' || lpad(((i::bigint * 7919) % 1000)::text, 3, '0') || '/' || lpad(((i::bigint * 104729) % 10000)::text, 4, '0') || '/'
                                  || lpad(((i::bigint * 13) % 100000)::text, 5, '0') || '+++' END,
       NULL,
       CASE WHEN journal IN (1, 2) THEN (ARRAY['paid', 'paid', 'paid', 'not_paid', 'in_payment', 'partial', 'reversed', 'paid'])[1 + get_byte(h, 6) % 8] ELSE 'not_paid' END,
       NULL,
       CASE WHEN journal IN (1, 2) THEN pname END,
       CASE WHEN journal = 1 AND get_byte(h, 7) < 200 THEN 'S' || lpad((1 + (i::bigint * :n_order / :n_move))::text, 5, '0') END,
       d, CASE WHEN journal IN (1, 2) THEN d END, CASE WHEN journal IN (1, 2) THEN d + 30 END,
       CASE WHEN journal = 1 AND get_byte(h, 8) < 60 THEN jsonb_build_object('en_US', '<p>' || (:'s7'::text[])[1 + get_byte(h, 9)] || '</p>') END,
       untaxed, round(untaxed * 0.21, 2), round(untaxed * 1.21, 2),
       CASE WHEN get_byte(h, 6) % 8 IN (3, 5) THEN round(untaxed * 1.21, 2) ELSE 0 END,
       untaxed * sign, round(untaxed * 0.21, 2) * sign, round(untaxed * 1.21, 2) * sign, round(untaxed * 1.21, 2) * sign,
       CASE WHEN get_byte(h, 6) % 8 IN (3, 5) THEN round(untaxed * 1.21, 2) * sign ELSE 0 END,
       NULL, false, false, false, state = 'posted', journal = 1 AND get_byte(h, 10) < 200,
       d + time '09:00' + get_byte(h, 11) * interval '2 minutes',
       d + time '09:00' + get_byte(h, 12) * interval '1 hour'
FROM (SELECT i, h, journal, partner, d, state, untaxed,
             CASE journal WHEN 1 THEN 'out_invoice' WHEN 2 THEN 'in_invoice' ELSE 'entry' END AS move_type,
             CASE journal WHEN 2 THEN -1 ELSE 1 END AS sign,
             (ARRAY['INV', 'BILL', 'MISC', 'BNK1'])[journal] || '/' || extract(year FROM d)::int || '/' AS prefix,
             (row_number() OVER (PARTITION BY journal, extract(year FROM d) ORDER BY i))::int AS seq,
             (SELECT (:'company_words'::text[])[1 + get_byte(hp, 0) % 32] || ' ' || (:'company_kinds'::text[])[1 + get_byte(hp, 1) % 16]
                     || ' ' || (:'company_forms'::text[])[1 + get_byte(hp, 2) % 16]
              FROM (SELECT decode(md5(((partner - 1) / 5 * 5 + 1)::text || 'company'), 'hex') AS hp) x) AS pname
      FROM (SELECT i, h,
                   CASE WHEN get_byte(h, 13) < 150 THEN 1 WHEN get_byte(h, 13) < 200 THEN 2 WHEN get_byte(h, 13) < 215 THEN 3 ELSE 4 END AS journal,
                   1 + ((get_byte(h, 14) * 256 + get_byte(h, 15)) * 256 + get_byte(h, 0)) % :n_partner AS partner,
                   (date '2019-04-01' + (i::bigint * 1650 / :n_move)::int) AS d,
                   CASE WHEN get_byte(h, 1) < 245 THEN 'posted' WHEN get_byte(h, 1) < 250 THEN 'cancel' ELSE 'draft' END AS state,
                   round((get_byte(h, 2) * 256 + get_byte(h, 3)) / 7.0 + 5, 2) AS untaxed
            FROM (SELECT i, decode(md5(i::text || 'move'), 'hex') AS h FROM generate_series(1, :n_move) i OFFSET 0) s00
            OFFSET 0) s0
      ) s
ORDER BY i;
SELECT setval('account_move_id_seq', :n_move) AS _ \gset

CREATE TABLE account_move_line (
    id serial PRIMARY KEY,
    move_id integer NOT NULL,
    journal_id integer,
    company_id integer,
    company_currency_id integer,
    reconcile_model_id integer,
    payment_id integer,
    statement_line_id integer,
    statement_id integer,
    group_tax_id integer,
    tax_line_id integer,
    tax_group_id integer,
    tax_repartition_line_id integer,
    full_reconcile_id integer,
    account_id integer,
    currency_id integer NOT NULL,
    partner_id integer,
    product_id integer,
    product_uom_id integer,
    create_uid integer, write_uid integer,
    move_name varchar,
    parent_state varchar,
    ref varchar,
    tax_audit varchar,
    matching_number varchar,
    display_type varchar NOT NULL,
    date date,
    invoice_date date,
    date_maturity date,
    discount_date date,
    analytic_distribution jsonb,
    debit numeric,
    credit numeric,
    balance numeric,
    amount_currency numeric,
    tax_base_amount numeric,
    amount_residual numeric,
    amount_residual_currency numeric,
    quantity numeric,
    price_unit numeric,
    price_subtotal numeric,
    price_total numeric,
    discount numeric,
    discount_amount_currency numeric,
    discount_balance numeric,
    name varchar,
    sequence integer,
    is_storno boolean,
    tax_tag_invert boolean,
    blocked boolean,
    reconciled boolean,
    create_date timestamp without time zone,
    write_date timestamp without time zone
);
INSERT INTO account_move_line
SELECT i, m, journal, 1, 1, NULL, NULL, NULL, NULL, NULL,
       CASE WHEN kind = 'tax' THEN 1 + journal % 2 END,
       CASE WHEN kind = 'tax' THEN 1 END,
       CASE WHEN kind = 'tax' THEN 2 + journal END,
       CASE WHEN kind = 'payment_term' AND get_byte(h, 0) < 200 THEN 1 + (i / 3) END,
       CASE kind WHEN 'payment_term' THEN CASE WHEN journal = 2 THEN 2 ELSE 1 END
                 WHEN 'tax' THEN CASE WHEN journal = 2 THEN 6 ELSE 5 END
                 ELSE CASE journal WHEN 1 THEN 3 + get_byte(h, 1) % 2 WHEN 2 THEN 7 + get_byte(h, 1) % 2 * 3 WHEN 4 THEN 8 ELSE 11 + get_byte(h, 1) % 2 END END,
       CASE WHEN get_byte(hm, 1) < 240 THEN 1 ELSE 2 END,
       partner,
       CASE WHEN kind = 'product' AND journal IN (1, 2) THEN product END,
       CASE WHEN kind = 'product' AND journal IN (1, 2) THEN 1 END,
       3 + get_byte(hm, 2) % 40, 3 + get_byte(hm, 3) % 40,
       (ARRAY['INV', 'BILL', 'MISC', 'BNK1'])[journal] || '/' || extract(year FROM d)::int || '/' || lpad((m % 100000)::text, 5, '0'),
       CASE WHEN get_byte(hm, 1) < 245 THEN 'posted' WHEN get_byte(hm, 1) < 250 THEN 'cancel' ELSE 'draft' END,
       CASE WHEN journal = 2 THEN 'BILL-' || (get_byte(hm, 4) * 256 + get_byte(hm, 5))::text END,
       CASE WHEN kind <> 'payment_term' AND journal IN (1, 2) THEN '+' || (ARRAY['03', '54', '81', '85', '59', '64'])[1 + get_byte(h, 2) % 6] END,
       CASE WHEN kind = 'payment_term' AND get_byte(h, 0) < 200 THEN 'A' || (i / 3)::text END,
       kind,
       d, CASE WHEN journal IN (1, 2) THEN d END,
       CASE WHEN kind = 'payment_term' THEN d + 30 END,
       NULL,
       CASE WHEN kind = 'product' AND get_byte(h, 3) < 50 THEN jsonb_build_object((1 + get_byte(h, 4) % 12)::text, 100.0) END,
       CASE WHEN (kind = 'payment_term') = (journal = 2) THEN amount ELSE 0 END,
       CASE WHEN (kind = 'payment_term') = (journal = 2) THEN 0 ELSE amount END,
       CASE WHEN (kind = 'payment_term') = (journal = 2) THEN amount ELSE -amount END,
       CASE WHEN (kind = 'payment_term') = (journal = 2) THEN amount ELSE -amount END,
       CASE WHEN kind = 'tax' THEN round(amount / 0.21, 2) ELSE 0 END,
       CASE WHEN kind = 'payment_term' AND get_byte(h, 0) >= 200 THEN amount ELSE 0 END,
       CASE WHEN kind = 'payment_term' AND get_byte(h, 0) >= 200 THEN amount ELSE 0 END,
       CASE WHEN kind = 'product' THEN qty ELSE 1 END,
       CASE WHEN kind = 'product' THEN round(amount / qty, 2) ELSE amount END,
       CASE WHEN kind = 'product' THEN amount ELSE 0 END,
       CASE WHEN kind = 'product' THEN round(amount * 1.21, 2) ELSE 0 END,
       0, 0, 0,
       CASE kind WHEN 'tax' THEN '21%'
                 WHEN 'payment_term' THEN CASE WHEN journal = 1 THEN '+++' || lpad(((m::bigint * 7919) % 1000)::text, 3, '0') || '/' || lpad(((m::bigint * 104729) % 10000)::text, 4, '0') || '/'
                                                                       || lpad(((m::bigint * 13) % 100000)::text, 5, '0') || '+++' ELSE 'INV/' || extract(year FROM d)::int END
                 ELSE CASE WHEN journal IN (1, 2)
                           THEN '[' || upper(left((:'products_en'::text[])[1 + get_byte(hp, 1) % 48], 3)) || '-' || lpad(product::text, 6, '0') || '] '
                                || (:'adjectives_en'::text[])[1 + get_byte(hp, 0) % 20] || ' ' || (:'products_en'::text[])[1 + get_byte(hp, 1) % 48]
                           ELSE (:'s3'::text[])[1 + get_byte(h, 5)] END END,
       CASE kind WHEN 'product' THEN 10 + get_byte(h, 6) % 5 WHEN 'tax' THEN 100 ELSE 1000 END,
       false, false, false,
       kind = 'payment_term' AND get_byte(h, 0) < 200,
       d + time '09:00' + get_byte(hm, 11) * interval '2 minutes',
       d + time '09:00' + get_byte(hm, 12) * interval '1 hour'
FROM (SELECT i, h, m, hm, journal, d,
             1 + ((get_byte(hm, 14) * 256 + get_byte(hm, 15)) * 256 + get_byte(hm, 0)) % :n_partner AS partner,
             1 + (get_byte(h, 7) * 256 + get_byte(h, 8)) % :n_product AS product,
             decode(md5((1 + (get_byte(h, 7) * 256 + get_byte(h, 8)) % :n_product)::text || 'product'), 'hex') AS hp,
             (ARRAY[1, 1, 1, 2, 2, 3, 4, 5, 10, 12, 20, 24, 50, 100, 6, 8])[1 + get_byte(h, 9) % 16]::numeric AS qty,
             round((get_byte(h, 10) * 256 + get_byte(h, 11)) / 30.0 + 1, 2) AS amount,
             CASE WHEN k = 0 THEN 'payment_term' WHEN k = 1 AND journal IN (1, 2) THEN 'tax' ELSE 'product' END AS kind
      FROM (SELECT i, h, m, hm, k,
                   CASE WHEN get_byte(hm, 13) < 150 THEN 1 WHEN get_byte(hm, 13) < 200 THEN 2 WHEN get_byte(hm, 13) < 215 THEN 3 ELSE 4 END AS journal,
                   (date '2019-04-01' + (m::bigint * 1650 / :n_move)::int) AS d
            FROM (SELECT i, decode(md5(i::text || 'aml'), 'hex') AS h, m, decode(md5(m::text || 'move'), 'hex') AS hm,
                         i - 1 - (((m - 1)::bigint * :n_move_line + :n_move - 1) / :n_move)::int AS k
                  FROM (SELECT i, 1 + ((i - 1)::bigint * :n_move / :n_move_line)::int AS m FROM generate_series(1, :n_move_line) i) g
                  OFFSET 0) s00
            OFFSET 0) s0
      OFFSET 0) s;
SELECT setval('account_move_line_id_seq', :n_move_line) AS _ \gset

CREATE TABLE mail_message (
    id serial PRIMARY KEY,
    parent_id integer,
    res_id integer,
    record_alias_domain_id integer,
    record_company_id integer,
    subtype_id integer,
    mail_activity_type_id integer,
    author_id integer,
    author_guest_id integer,
    mail_server_id integer,
    create_uid integer, write_uid integer,
    subject varchar,
    model varchar,
    record_name varchar,
    message_type varchar NOT NULL,
    email_from varchar,
    message_id varchar,
    reply_to varchar,
    email_layout_xmlid varchar,
    body text,
    is_internal boolean,
    reply_to_force_new boolean,
    email_add_signature boolean,
    date timestamp without time zone,
    create_date timestamp without time zone,
    write_date timestamp without time zone
);
INSERT INTO mail_message
SELECT i,
       CASE WHEN mtype = 'comment' AND get_byte(h, 0) < 60 AND i > 3 THEN i - 1 - get_byte(h, 1) % 3 END,
       res_id, NULL, 1,
       CASE mtype WHEN 'notification' THEN 2 + get_byte(h, 2) % 12 WHEN 'comment' THEN CASE WHEN get_byte(h, 2) < 100 THEN 2 ELSE 1 END ELSE 1 END,
       NULL,
       author, NULL, NULL,
       uid, uid,
       CASE WHEN mtype = 'email' THEN
           CASE model WHEN 'sale.order' THEN 'My Company (Brussels) Order (Ref S' || lpad(res_id::text, 5, '0') || ')'
                      WHEN 'account.move' THEN 'My Company (Brussels) Invoice (Ref INV/' || (2019 + res_id % 5)::text || '/' || lpad(res_id::text, 5, '0') || ')'
                      ELSE 'Re: ' || (:'s2'::text[])[1 + get_byte(h, 3)] END END,
       model,
       CASE model WHEN 'sale.order' THEN 'S' || lpad(res_id::text, 5, '0')
                  WHEN 'account.move' THEN 'INV/' || (2019 + res_id % 5)::text || '/' || lpad(res_id::text, 5, '0')
                  WHEN 'res.partner' THEN (:'first_names'::text[])[1 + get_byte(h, 4) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(h, 5) % 64]
                  ELSE 'Task #' || res_id::text END,
       mtype,
       '"' || (:'first_names'::text[])[1 + get_byte(ha, 0) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(ha, 1) % 64] || '" <'
           || lower((:'first_names'::text[])[1 + get_byte(ha, 0) % 64]) || '.' || lower((:'last_names'::text[])[1 + get_byte(ha, 1) % 64])
           || '@' || (:'domains'::text[])[1 + get_byte(ha, 8) % 10] || '>',
       '<' || (extract(epoch FROM date)::bigint * 1000000 + get_byte(h, 6) * 1000 + get_byte(h, 7))::text || '.'
           || (extract(epoch FROM date)::bigint % 1000000)::text || '.' || (get_byte(h, 8) * 256 + get_byte(h, 9))::text
           || '-openerp-' || res_id::text || '-' || model || '@odoo-prod>',
       CASE WHEN mtype = 'email' THEN '"My Company (Brussels)" <catchall@mycompany.example>' END,
       CASE WHEN mtype = 'email' THEN 'mail.mail_notification_layout' END,
       CASE
           WHEN mtype = 'notification' THEN
               CASE get_byte(h, 10) % 4
                   WHEN 0 THEN '<p>' || (ARRAY['Quotation created', 'Invoice validated', 'Contact created', 'Task created',
                                               'Sales Order confirmed', 'Payment registered', 'Delivery done', 'Stage changed'])[1 + get_byte(h, 11) % 8] || '</p>'
                   WHEN 1 THEN '<div class="o_mail_notification"><p>' || (:'s4'::text[])[1 + get_byte(h, 12)] || '</p></div>'
                   ELSE '' END
           -- Emails sent from Odoo's templates: the same layout with a few values changed.
           WHEN mtype = 'email' AND model = 'sale.order' AND get_byte(h2, 15) < 200 THEN
               E'<div style="margin: 0px; padding: 0px;">\n    <p style="margin: 0px; padding: 0px; font-size: 13px;">\n        Hello,\n        <br><br>\n        Your '
               || CASE WHEN get_byte(h, 11) < 128 THEN 'quotation' ELSE 'order' END
               || ' <span style="font-weight: bold;">S' || lpad(res_id::text, 5, '0') || '</span>'
               || E'\n        amounting in <span style="font-weight: bold;">' || to_char((get_byte(h, 12) * 256 + get_byte(h, 13)) / 7.0 + 10, 'FM999G990D00')
               || E' €</span>\n        is ready for review.\n        <br><br>\n        Do not hesitate to contact us if you have any questions.\n        <br>\n    </p>\n</div>'
           WHEN mtype = 'email' AND model = 'account.move' AND get_byte(h2, 15) < 200 THEN
               E'<div style="margin: 0px; padding: 0px;">\n    <p style="margin: 0px; padding: 0px; font-size: 13px;">\n        Dear '
               || (:'first_names'::text[])[1 + get_byte(h, 14) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(h, 15) % 64]
               || E',<br><br>\n        Here is your\n        invoice <span style="font-weight:bold;">INV/' || (2019 + res_id % 5)::text || '/' || lpad(res_id::text, 5, '0')
               || E'</span>\n        amounting in <span style="font-weight:bold;">' || to_char((get_byte(h, 12) * 256 + get_byte(h, 13)) / 7.0 + 10, 'FM999G990D00')
               || E' €</span>\n        from My Company (Brussels).\n        Please remit payment at your earliest convenience.\n        <br>\n        Please use the following communication for your payment: <span style="font-weight:bold;">+++'
               || lpad(((res_id::bigint * 7919) % 1000)::text, 3, '0') || '/' || lpad(((res_id::bigint * 104729) % 10000)::text, 4, '0') || '/' || lpad(((res_id::bigint * 13) % 100000)::text, 5, '0')
               || E'+++</span>.\n        <br><br>\n        Do not hesitate to contact us if you have any questions.\n        <br><br>\n        --<br>'
               || (:'first_names'::text[])[1 + get_byte(ha, 0) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(ha, 1) % 64]
               || E'\n    </p>\n</div>'
           ELSE '<div><p>' || (ARRAY['Hello', 'Dear', 'Hi', 'Good morning', 'Bonjour', 'Hallo', 'Dear Sir or Madam', 'Hello again'])[1 + get_byte(h, 13) % 8]
                || CASE WHEN get_byte(h, 13) % 8 = 6 THEN '' ELSE ' ' || (:'first_names'::text[])[1 + get_byte(h, 14) % 64] END
                || ',</p><p>' || (:'s0'::text[])[1 + get_byte(h, 15)] || ' ' || (:'s1'::text[])[1 + get_byte(h2, 0)]
                || CASE WHEN nsent > 2 THEN ' ' || (:'s2'::text[])[1 + get_byte(h2, 1)] ELSE '' END
                || CASE WHEN nsent > 3 THEN '</p><p>' || (:'s3'::text[])[1 + get_byte(h2, 2)] ELSE '' END
                || CASE WHEN nsent > 4 THEN ' ' || (:'s4'::text[])[1 + get_byte(h2, 3)] ELSE '' END
                || CASE WHEN nsent > 5 THEN ' ' || (:'s5'::text[])[1 + get_byte(h2, 4)] ELSE '' END
                || CASE WHEN nsent > 6 THEN '</p><ul><li>' || (:'s6'::text[])[1 + get_byte(h2, 5)] || '</li><li>' || (:'s7'::text[])[1 + get_byte(h2, 6)] || '</li></ul><p>' ELSE ' ' END
                || CASE WHEN nsent > 8 THEN (:'s0'::text[])[1 + get_byte(h2, 7)] || ' ' || (:'s1'::text[])[1 + get_byte(h2, 8)] || ' ' ELSE '' END
                || CASE WHEN nsent > 10 THEN (:'s2'::text[])[1 + get_byte(h2, 9)] || ' ' || (:'s3'::text[])[1 + get_byte(h2, 10)] || '</p><p>'
                                             || (:'s4'::text[])[1 + get_byte(h2, 11)] || ' ' || (:'s5'::text[])[1 + get_byte(h2, 12)] || ' ' ELSE '' END
                || CASE WHEN nsent > 12 THEN (:'s6'::text[])[1 + get_byte(h3, 0)] || ' ' || (:'s7'::text[])[1 + get_byte(h3, 1)] || ' '
                                             || (:'s0'::text[])[1 + get_byte(h3, 2)] || ' ' || (:'s1'::text[])[1 + get_byte(h3, 3)] || '</p><p>'
                                             || (:'s2'::text[])[1 + get_byte(h3, 4)] || ' ' || (:'s3'::text[])[1 + get_byte(h3, 5)] || ' ' ELSE '' END
                || (:'s7'::text[])[1 + get_byte(h2, 13)] || '</p><p>'
                || (ARRAY['Best regards,', 'Kind regards,', 'Thanks,', 'Regards,', 'Cordialement,', 'Met vriendelijke groeten,', 'Thank you,', 'Cheers,'])[1 + get_byte(h2, 14) % 8]
                || '<br>' || (:'first_names'::text[])[1 + get_byte(ha, 0) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(ha, 1) % 64]
                || '</p>'
                || CASE WHEN mtype = 'email' AND get_byte(h2, 15) < 150
                        THEN '<div data-o-mail-quote="1"><br data-o-mail-quote="1"><blockquote data-o-mail-quote="1"><p>'
                             || (:'s5'::text[])[1 + get_byte(h3, 6)] || ' ' || (:'s6'::text[])[1 + get_byte(h3, 7)] || ' ' || (:'s7'::text[])[1 + get_byte(h3, 8)]
                             || '</p></blockquote></div>' ELSE '' END
                || '</div>'
       END,
       mtype = 'notification' OR get_byte(h, 0) > 200,
       false, true,
       date, date, date + CASE WHEN get_byte(h, 1) < 20 THEN interval '1 day' ELSE interval '0' END
FROM (SELECT i, h, h2, h3, ha, res_id, model, mtype, date, author,
             CASE WHEN author <= :n_user * 5 AND author % 5 = 0 THEN author / 5 ELSE 1 END AS uid,
             2 + get_byte(h, 9) % 14 AS nsent
      FROM (SELECT i, h, h2, h3, mtype,
                   (ARRAY['sale.order', 'sale.order', 'account.move', 'account.move', 'account.move', 'res.partner', 'project.task', 'crm.lead'])[1 + get_byte(h, 4) % 8] AS model,
                   1 + (get_byte(h, 5) * 256 + get_byte(h, 6)) % :n_order AS res_id,
                   timestamp '2019-04-01 08:00:00' + (i::bigint * 144000000 / :n_message) * interval '1 second' + get_byte(h, 7) * interval '13 seconds' AS date,
                   1 + (get_byte(h, 8) * 65536 + get_byte(h, 9) * 256 + get_byte(h, 10)) % :n_partner AS author,
                   decode(md5((1 + (get_byte(h, 8) * 65536 + get_byte(h, 9) * 256 + get_byte(h, 10)) % :n_partner)::text || 'partner'), 'hex') AS ha
            FROM (SELECT i, decode(md5(i::text || 'msg'), 'hex') AS h, decode(md5(i::text || 'msg2'), 'hex') AS h2,
                         decode(md5(i::text || 'msg3'), 'hex') AS h3,
                         (ARRAY['notification', 'notification', 'notification', 'comment', 'comment', 'email', 'email', 'user_notification'])[1 + get_byte(decode(md5(i::text || 'msg'), 'hex'), 3) % 8] AS mtype
                  FROM generate_series(1, :n_message) i OFFSET 0) s00
            OFFSET 0) s0
      OFFSET 0) s;
SELECT setval('mail_message_id_seq', :n_message) AS _ \gset

CREATE TABLE mail_tracking_value (
    id serial PRIMARY KEY,
    field_id integer NOT NULL,
    old_value_integer integer,
    new_value_integer integer,
    currency_id integer,
    mail_message_id integer NOT NULL,
    create_uid integer, write_uid integer,
    old_value_char varchar,
    new_value_char varchar,
    old_value_text text,
    new_value_text text,
    old_value_datetime timestamp without time zone,
    new_value_datetime timestamp without time zone,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    old_value_float double precision,
    new_value_float double precision
);
-- One to three tracked changes per notification (state, amount, salesperson, date, ...).
INSERT INTO mail_tracking_value
SELECT i, field, 
       CASE WHEN kind = 'int' THEN 3 + get_byte(h, 1) % 40 END,
       CASE WHEN kind = 'int' THEN 3 + get_byte(h, 2) % 40 END,
       CASE WHEN kind = 'float' THEN 1 END,
       msg, 2, 2,
       CASE kind WHEN 'char' THEN (ARRAY['Quotation', 'Quotation Sent', 'Sales Order', 'Draft', 'Posted', 'Not Paid', 'In Payment', 'New'])[1 + get_byte(h, 3) % 8]
                 WHEN 'int' THEN (:'first_names'::text[])[1 + get_byte(h, 1) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(h, 4) % 64] END,
       CASE kind WHEN 'char' THEN (ARRAY['Quotation Sent', 'Sales Order', 'Sales Order', 'Posted', 'Paid', 'Paid', 'Paid', 'Won'])[1 + get_byte(h, 3) % 8]
                 WHEN 'int' THEN (:'first_names'::text[])[1 + get_byte(h, 2) % 64] || ' ' || (:'last_names'::text[])[1 + get_byte(h, 5) % 64] END,
       NULL, NULL,
       CASE WHEN kind = 'datetime' THEN d - get_byte(h, 6) * interval '1 day' END,
       CASE WHEN kind = 'datetime' THEN date_trunc('day', d) + get_byte(h, 7) * interval '1 day' END,
       d, d,
       CASE WHEN kind = 'float' THEN round((get_byte(h, 8) * 256 + get_byte(h, 9)) / 9.0 + 10, 2) END,
       CASE WHEN kind = 'float' THEN round((get_byte(h, 10) * 256 + get_byte(h, 11)) / 9.0 + 10, 2) END
FROM (SELECT i, h, msg, field,
             CASE WHEN field < 9000 THEN 'char' WHEN field < 9010 THEN 'int' WHEN field < 9020 THEN 'float' ELSE 'datetime' END AS kind,
             timestamp '2019-04-01 08:00:00' + (msg::bigint * 144000000 / :n_message) * interval '1 second' AS d
      FROM (SELECT i, h, 1 + ((i - 1)::bigint * :n_message / :n_tracking)::int AS msg,
                   (ARRAY[8990, 8991, 8992, 8993, 8994, 9001, 9002, 9011, 9012, 9021, 8995, 8996])[1 + get_byte(h, 0) % 12] AS field
            FROM (SELECT i, decode(md5(i::text || 'tracking'), 'hex') AS h FROM generate_series(1, :n_tracking) i OFFSET 0) s00
            OFFSET 0) s0
      OFFSET 0) s;
SELECT setval('mail_tracking_value_id_seq', :n_tracking) AS _ \gset

CREATE TABLE ir_model_data (
    id serial PRIMARY KEY,
    res_id integer,
    create_uid integer, write_uid integer,
    noupdate boolean,
    name varchar NOT NULL,
    module varchar NOT NULL,
    model varchar NOT NULL,
    create_date timestamp without time zone,
    write_date timestamp without time zone
);
-- External ids: those of the modules' data files, then the __export__ ones of exported records.
INSERT INTO ir_model_data
SELECT i, res_id, 1, 1, get_byte(h, 0) < 40,
       CASE WHEN exported THEN replace(model, '.', '_') || '_' || res_id::text || '_' || substr(md5(i::text || 'imd'), 1, 8)
            ELSE replace(model, '.', '_') || '_' || (:'words'::text[])[1 + get_byte(h, 1) % 100] || '_' || i::text END,
       CASE WHEN exported THEN '__export__' ELSE (ARRAY['base', 'web', 'mail', 'sale', 'account', 'product', 'stock', 'l10n_be', 'website', 'crm',
                                                        'project', 'hr', 'purchase', 'point_of_sale', 'contacts', 'uom'])[1 + get_byte(h, 2) % 16] END,
       model,
       timestamp '2019-03-01 09:00:00' + CASE WHEN exported THEN (i::bigint * 144000000 / :n_model_data) * interval '1 second' ELSE interval '0' END,
       timestamp '2019-03-01 09:00:00' + (i::bigint * 144000000 / :n_model_data) * interval '1 second'
FROM (SELECT i, h, i > :n_model_data / 3 AS exported,
             (ARRAY['ir.ui.view', 'ir.ui.view', 'ir.ui.menu', 'ir.actions.act_window', 'ir.model.fields', 'ir.model.fields', 'ir.model.fields',
                    'ir.model.access', 'ir.rule', 'res.partner', 'product.template', 'product.product', 'account.account', 'account.tax',
                    'mail.template', 'ir.cron'])[1 + get_byte(h, 3) % 16] AS model,
             1 + (get_byte(h, 4) * 256 + get_byte(h, 5)) % :n_partner AS res_id
      FROM (SELECT i, decode(md5(i::text || 'imd'), 'hex') AS h FROM generate_series(1, :n_model_data) i OFFSET 0) s0
      OFFSET 0) s;
SELECT setval('ir_model_data_id_seq', :n_model_data) AS _ \gset

CREATE TABLE ir_attachment (
    id serial PRIMARY KEY,
    res_id integer,
    company_id integer,
    file_size integer,
    create_uid integer, write_uid integer,
    name varchar NOT NULL,
    res_model varchar,
    res_field varchar,
    type varchar NOT NULL,
    url varchar(1024),
    access_token varchar,
    store_fname varchar,
    checksum varchar(40),
    mimetype varchar,
    description text,
    index_content text,
    public boolean,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    db_datas bytea,
    original_id integer
);
INSERT INTO ir_attachment
SELECT i, res_id, 1, size, uid, uid,
       CASE res_model
           WHEN 'account.move' THEN CASE WHEN ext = 'pdf' THEN 'INV_' || (2019 + res_id % 5)::text || '_' || lpad(res_id::text, 5, '0') || '.pdf'
                                         ELSE 'scan_' || lpad(i::text, 6, '0') || '.' || ext END
           WHEN 'sale.order' THEN CASE WHEN ext = 'pdf' THEN 'Quotation - S' || lpad(res_id::text, 5, '0') || '.pdf'
                                       ELSE (:'products_en'::text[])[1 + get_byte(h, 0) % 48] || ' specs.' || ext END
           WHEN 'res.partner' THEN CASE WHEN res_field IS NOT NULL THEN res_field ELSE 'contract_' || res_id::text || '.' || ext END
           ELSE coalesce(res_field, (ARRAY['IMG_', 'Scan_', 'Document_', 'Photo_', 'datasheet-', 'export_'])[1 + get_byte(h, 1) % 6]
                                    || (1000 + i % 9000)::text || '.' || ext)
       END,
       res_model, res_field,
       'binary', NULL,
       CASE WHEN get_byte(h, 2) < 30 THEN md5(i::text || 'att-token') || substr(md5(i::text || 'att-token2'), 1, 4) END,
       substr(sha, 1, 2) || '/' || sha, sha,
       mime,
       NULL,
       CASE WHEN mime = 'text/plain' OR mime = 'text/csv' OR (mime = 'application/pdf' AND get_byte(h, 3) < 100)
            THEN (:'s0'::text[])[1 + get_byte(h, 4)] || ' ' || (:'s1'::text[])[1 + get_byte(h, 5)] || E'\n' || (:'s2'::text[])[1 + get_byte(h, 6)]
                 || ' ' || (:'s3'::text[])[1 + get_byte(h, 7)] || E'\n' || (:'s4'::text[])[1 + get_byte(h, 8)] || ' ' || (:'s5'::text[])[1 + get_byte(h, 9)]
            WHEN mime LIKE 'image/%' THEN 'image' END,
       res_model = 'product.template',
       created, created,
       NULL, NULL
FROM (SELECT i, h, res_model, mime, ext, created,
             CASE WHEN res_model IN ('res.partner', 'product.template') AND get_byte(h, 10) < 200
                  THEN (ARRAY['image_1920', 'image_1024', 'image_512', 'image_256', 'image_128'])[1 + get_byte(h, 11) % 5] END AS res_field,
             CASE res_model WHEN 'product.template' THEN 1 + (get_byte(h, 12) * 256 + get_byte(h, 13)) % :n_product
                            WHEN 'res.partner' THEN 1 + (get_byte(h, 12) * 256 + get_byte(h, 13)) % :n_partner
                            ELSE 1 + (get_byte(h, 12) * 256 + get_byte(h, 13)) % :n_order END AS res_id,
             md5(i::text || 'sha1') || substr(md5(i::text || 'sha1b'), 1, 8) AS sha,
             CASE WHEN mime LIKE 'image/%' THEN 2000 + (get_byte(h, 14) * 256 + get_byte(h, 15)) * 8
                  ELSE 800 + (get_byte(h, 14) * 256 + get_byte(h, 15)) * (1 + get_byte(h, 0) % 30) END AS size,
             CASE WHEN get_byte(h, 1) < 200 THEN 2 ELSE 3 + get_byte(h, 1) % 40 END AS uid
      FROM (SELECT i, h,
                   (ARRAY['account.move', 'account.move', 'account.move', 'sale.order', 'res.partner', 'product.template', 'product.template', 'mail.message'])[1 + get_byte(h, 3) % 8] AS res_model,
                   (:'mimetypes'::text[])[1 + get_byte(h, 9) % 12] AS mime,
                   (:'extensions'::text[])[1 + get_byte(h, 9) % 12] AS ext,
                   timestamp '2019-04-01 08:00:00' + (i::bigint * 144000000 / :n_attachment) * interval '1 second' + get_byte(h, 7) * interval '13 seconds' AS created
            FROM (SELECT i, decode(md5(i::text || 'att'), 'hex') AS h FROM generate_series(1, :n_attachment) i OFFSET 0) s00
            OFFSET 0) s0
      OFFSET 0) s;
-- Product images are images.
UPDATE ir_attachment SET mimetype = 'image/png', name = coalesce(res_field, name)
WHERE res_field IS NOT NULL;
SELECT setval('ir_attachment_id_seq', :n_attachment) AS _ \gset

CREATE TABLE ir_config_parameter (
    id serial PRIMARY KEY,
    key varchar NOT NULL UNIQUE,
    value text NOT NULL,
    create_uid integer, create_date timestamp without time zone,
    write_uid integer, write_date timestamp without time zone
);
INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid, write_date)
SELECT key, value, 1, timestamp '2019-03-01 09:00:00', 1, timestamp '2019-03-01 09:00:00'
FROM (VALUES ('database.secret', md5('secret') || md5('secret2')),
             ('database.uuid', '6f0f5c1e-' || substr(md5('uuid'), 1, 4) || '-11e9-' || substr(md5('uuid'), 5, 4) || '-' || substr(md5('uuid'), 9, 12)),
             ('database.create_date', '2019-03-01 09:00:00'),
             ('web.base.url', 'https://erp.mycompany.example'),
             ('web.base.url.freeze', 'True'),
             ('base.login_cooldown_after', '10'),
             ('base.login_cooldown_duration', '60'),
             ('base_setup.default_user_rights', 'True'),
             ('mail.catchall.domain', 'mycompany.example'),
             ('mail.catchall.alias', 'catchall'),
             ('mail.bounce.alias', 'bounce'),
             ('mail.default.from', 'notifications'),
             ('auth_signup.reset_password', 'True'),
             ('sale.default_confirmation_template', '12'),
             ('account.use_invoice_terms', 'True'),
             ('database.enterprise_code', 'M' || upper(substr(md5('code'), 1, 15))),
             ('database.expiration_date', '2026-12-31 00:00:00'),
             ('database.expiration_reason', 'renewal'),
             ('ir_attachment.location', 'file'),
             ('report.url', 'http://127.0.0.1:8069')) v(key, value);

CREATE TABLE ir_module_module (
    id serial PRIMARY KEY,
    create_uid integer, create_date timestamp without time zone,
    write_date timestamp without time zone, write_uid integer,
    website varchar,
    summary jsonb,
    name varchar NOT NULL UNIQUE,
    author varchar,
    icon varchar,
    state varchar(16),
    latest_version varchar,
    shortdesc jsonb,
    category_id integer,
    description jsonb,
    application boolean,
    demo boolean,
    web boolean,
    license varchar(32),
    sequence integer,
    auto_install boolean,
    to_buy boolean,
    maintainer varchar,
    contributors text,
    published_version varchar,
    url varchar,
    menus_by_module text,
    reports_by_module text,
    views_by_module text
);
INSERT INTO ir_module_module (create_uid, create_date, write_date, write_uid, website, summary, name, author, icon, state,
                              latest_version, shortdesc, category_id, description, application, demo, web, license, sequence,
                              auto_install, to_buy, maintainer, published_version)
SELECT 1, timestamp '2019-03-01 09:00:00', timestamp '2024-11-05 03:12:44', 1,
       CASE WHEN n % 3 = 0 THEN 'https://www.odoo.com/app/' || replace(m, '_', '-') END,
       jsonb_build_object('en_US', initcap(replace(m, '_', ' ')) || ': ' || (:'s6'::text[])[1 + n % 256],
                          'fr_FR', initcap(replace(m, '_', ' ')) || ' : ' || (:'s7'::text[])[1 + n % 256]),
       m,
       CASE WHEN m LIKE 'l10n%' THEN 'Odoo S.A., Community' ELSE 'Odoo S.A.' END,
       '/' || m || '/static/description/icon.png',
       CASE WHEN n % 4 = 0 OR m IN ('base', 'web', 'mail', 'sale', 'account', 'product', 'contacts', 'stock', 'sale_management') THEN 'installed'
            WHEN n % 29 = 0 THEN 'to upgrade' ELSE 'uninstalled' END,
       CASE WHEN n % 4 = 0 OR m IN ('base', 'web', 'mail', 'sale', 'account', 'product', 'contacts', 'stock', 'sale_management')
            THEN '17.0.' || (1 + n % 3)::text || '.' || (n % 7)::text END,
       jsonb_build_object('en_US', initcap(replace(m, '_', ' ')), 'fr_FR', initcap(replace(m, '_', ' '))),
       1 + n % 25,
       jsonb_build_object('en_US', (:'s0'::text[])[1 + n % 256] || ' ' || (:'s1'::text[])[1 + (n * 7) % 256] || E'\n\n'
                                   || (:'s2'::text[])[1 + (n * 3) % 256] || ' ' || (:'s3'::text[])[1 + (n * 11) % 256]),
       m IN ('sale_management', 'account', 'stock', 'crm', 'project', 'website', 'hr', 'purchase', 'mrp', 'point_of_sale'),
       false, false,
       CASE WHEN m LIKE 'l10n%' OR m LIKE 'theme%' THEN 'LGPL-3' ELSE (ARRAY['LGPL-3', 'LGPL-3', 'LGPL-3', 'OEEL-1'])[1 + n % 4] END,
       100, n % 5 = 0, false, NULL,
       CASE WHEN n % 4 = 0 THEN '17.0.' || (1 + n % 3)::text || '.' || (n % 7)::text END
FROM (SELECT row_number() OVER () AS n, m
      FROM unnest(ARRAY[
          'base', 'web', 'mail', 'bus', 'base_setup', 'base_import', 'web_editor', 'web_tour', 'auth_signup', 'auth_totp',
          'contacts', 'product', 'uom', 'sale', 'sale_management', 'sale_stock', 'sale_mrp', 'sale_project', 'sale_timesheet',
          'account', 'account_payment', 'account_edi', 'account_check_printing', 'account_debit_note', 'account_qr_code_sepa',
          'stock', 'stock_account', 'stock_dropshipping', 'stock_landed_costs', 'stock_picking_batch', 'purchase', 'purchase_stock',
          'purchase_requisition', 'mrp', 'mrp_account', 'mrp_subcontracting', 'crm', 'crm_iap_enrich', 'project', 'hr',
          'hr_timesheet', 'hr_expense', 'hr_holidays', 'hr_attendance', 'hr_recruitment', 'hr_skills', 'website', 'website_sale',
          'website_blog', 'website_event', 'website_forum', 'website_slides', 'point_of_sale', 'pos_restaurant', 'event',
          'mass_mailing', 'survey', 'calendar', 'note', 'im_livechat', 'fleet', 'lunch', 'maintenance', 'repair', 'quality',
          'l10n_be', 'l10n_fr', 'l10n_de', 'l10n_nl', 'l10n_es', 'l10n_it', 'l10n_uk', 'l10n_ch', 'l10n_us', 'l10n_generic_coa',
          'payment', 'payment_stripe', 'payment_adyen', 'payment_paypal', 'delivery', 'delivery_dhl', 'delivery_ups',
          'portal', 'digest', 'iap', 'sms', 'snailmail', 'phone_validation', 'google_calendar', 'microsoft_calendar',
          'spreadsheet', 'spreadsheet_dashboard', 'board', 'resource', 'analytic', 'utm', 'link_tracker', 'rating',
          'theme_default', 'theme_starter', 'base_automation', 'base_vat', 'base_iban', 'base_geolocalize', 'http_routing',
          'social_media', 'barcodes', 'attachment_indexation', 'partner_autocomplete', 'web_unsplash', 'hr_org_chart',
          'loyalty', 'sale_loyalty', 'coupon', 'gamification', 'hr_gamification', 'website_crm', 'website_livechat',
          'website_mass_mailing', 'website_payment', 'website_sale_stock', 'website_sale_wishlist', 'website_sale_comparison'
      ]) m) v;

CREATE TABLE ir_cron (
    id serial PRIMARY KEY,
    ir_actions_server_id integer NOT NULL,
    cron_name varchar,
    user_id integer NOT NULL,
    active boolean,
    interval_number integer,
    interval_type varchar,
    numbercall integer,
    doall boolean,
    nextcall timestamp without time zone NOT NULL,
    lastcall timestamp without time zone,
    priority integer,
    create_uid integer, create_date timestamp without time zone,
    write_uid integer, write_date timestamp without time zone
);
INSERT INTO ir_cron (ir_actions_server_id, cron_name, user_id, active, interval_number, interval_type, numbercall, doall,
                     nextcall, lastcall, priority, create_uid, create_date, write_uid, write_date)
SELECT 100 + n, name, 1, n % 7 <> 3, iv, it, -1, false,
       timestamp '2024-11-05 04:00:00' + n * interval '7 minutes',
       CASE WHEN n % 7 <> 3 THEN timestamp '2024-11-05 03:00:00' + n * interval '3 minutes' END,
       5, 1, timestamp '2019-03-01 09:00:00', 1, timestamp '2024-11-05 03:00:00' + n * interval '3 minutes'
FROM (SELECT row_number() OVER () AS n, name, iv, it
      FROM (VALUES ('Mail: Email Queue Manager', 1, 'hours'), ('Notification: Delete Notifications older than 6 Month', 1, 'days'),
                   ('Base: Auto-vacuum internal data', 1, 'days'), ('Base: Portal Users Deletion', 1, 'days'),
                   ('Partner Autocomplete: Sync with remote DB', 60, 'minutes'), ('Account: Post draft entries with auto_post enabled', 1, 'days'),
                   ('Send invoices automatically', 1, 'days'), ('Sale: Send pending emails', 1, 'hours'),
                   ('Procurement: run scheduler', 1, 'days'), ('Stock: check orderpoints', 1, 'days'),
                   ('Digest Emails', 1, 'days'), ('Mail: Fetchmail Service', 5, 'minutes'),
                   ('Snailmail: process letters queue', 1, 'days'), ('SMS: SMS Queue Manager', 1, 'days'),
                   ('Calendar: Event Reminder', 1, 'hours'), ('Payment: Post-process transactions', 10, 'minutes'),
                   ('Website Visitor : clean inactive visitors', 1, 'days'), ('Gamification: Goal Challenge Check', 1, 'days'),
                   ('Link Tracker: clean old clicks', 1, 'weeks'), ('Publisher: Update Notification', 1, 'weeks'),
                   ('Discuss: channel member unmute', 15, 'minutes'), ('Mail: send web push notification', 1, 'days'),
                   ('Users: Notify About Unregistered Users', 1, 'days'), ('CRM: enrich leads (IAP)', 1, 'hours'),
                   ('Project: Recurring tasks', 1, 'days'), ('HR: Accrual plans', 1, 'days')) v(name, iv, it)) c;

-- Indexes and foreign keys, after the data as a restore would ---------------------------------
CREATE INDEX res_partner_name_index ON res_partner (name);
CREATE INDEX res_partner_complete_name_index ON res_partner (complete_name);
CREATE INDEX res_partner_parent_id_index ON res_partner (parent_id);
CREATE INDEX res_partner_commercial_partner_id_index ON res_partner (commercial_partner_id);
CREATE INDEX res_partner_email_index ON res_partner (email);
CREATE INDEX res_partner_ref_index ON res_partner (ref);
CREATE INDEX res_partner_vat_index ON res_partner (regexp_replace(upper(vat), '[^A-Z0-9]+', '', 'g'));
CREATE UNIQUE INDEX res_users_login_key ON res_users (login, company_id);
CREATE INDEX product_template_name_index ON product_template ((name ->> 'en_US'));
CREATE INDEX product_template_default_code_index ON product_template (default_code);
CREATE INDEX product_product_product_tmpl_id_index ON product_product (product_tmpl_id);
CREATE INDEX product_product_barcode_index ON product_product (barcode);
CREATE INDEX sale_order_name_index ON sale_order (name);
CREATE INDEX sale_order_partner_id_index ON sale_order (partner_id);
CREATE INDEX sale_order_date_order_id_idx ON sale_order (date_order DESC, id DESC);
CREATE INDEX sale_order_state_index ON sale_order (state);
CREATE INDEX sale_order_user_id_index ON sale_order (user_id);
CREATE INDEX sale_order_line_order_id_index ON sale_order_line (order_id);
CREATE INDEX sale_order_line_product_id_index ON sale_order_line (product_id);
CREATE INDEX account_move_name_index ON account_move (name);
CREATE INDEX account_move_date_index ON account_move (date);
CREATE INDEX account_move_partner_id_index ON account_move (partner_id);
CREATE INDEX account_move_journal_id_company_id_idx ON account_move (journal_id, company_id, date);
CREATE INDEX account_move_payment_reference_index ON account_move (payment_reference);
CREATE UNIQUE INDEX account_move_unique_name ON account_move (name, journal_id) WHERE state = 'posted' AND name <> '/';
CREATE INDEX account_move_line_move_id_index ON account_move_line (move_id);
CREATE INDEX account_move_line_account_id_index ON account_move_line (account_id);
CREATE INDEX account_move_line_partner_id_ref_idx ON account_move_line (partner_id, ref);
CREATE INDEX account_move_line_date_name_id_idx ON account_move_line (date DESC, move_name DESC, id);
CREATE INDEX account_move_line_matching_number_index ON account_move_line (matching_number);
CREATE INDEX account_move_line_product_id_index ON account_move_line (product_id);
CREATE INDEX mail_message_model_res_id_idx ON mail_message (model, res_id);
CREATE INDEX mail_message_model_res_id_id_idx ON mail_message (model, res_id, id);
CREATE INDEX mail_message_author_id_index ON mail_message (author_id);
CREATE INDEX mail_message_message_id_index ON mail_message (message_id);
CREATE INDEX mail_message_parent_id_index ON mail_message (parent_id);
CREATE INDEX mail_message_subtype_id_index ON mail_message (subtype_id);
CREATE INDEX mail_tracking_value_mail_message_id_index ON mail_tracking_value (mail_message_id);
CREATE UNIQUE INDEX ir_model_data_module_name_uniq_index ON ir_model_data (module, name);
CREATE INDEX ir_model_data_model_res_id_index ON ir_model_data (model, res_id);
CREATE INDEX ir_attachment_res_idx ON ir_attachment (res_model, res_id);
CREATE INDEX ir_attachment_store_fname_index ON ir_attachment (store_fname);
CREATE INDEX ir_attachment_checksum_index ON ir_attachment (checksum);
CREATE INDEX ir_cron_nextcall_index ON ir_cron (nextcall);

ALTER TABLE res_country ADD CONSTRAINT res_country_currency_id_fkey FOREIGN KEY (currency_id) REFERENCES res_currency(id) ON DELETE SET NULL;
ALTER TABLE res_company ADD CONSTRAINT res_company_currency_id_fkey FOREIGN KEY (currency_id) REFERENCES res_currency(id);
ALTER TABLE res_partner ADD CONSTRAINT res_partner_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id) ON DELETE SET NULL;
ALTER TABLE res_partner ADD CONSTRAINT res_partner_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES res_partner(id) ON DELETE SET NULL;
ALTER TABLE res_partner ADD CONSTRAINT res_partner_country_id_fkey FOREIGN KEY (country_id) REFERENCES res_country(id) ON DELETE RESTRICT;
ALTER TABLE res_partner ADD CONSTRAINT res_partner_commercial_partner_id_fkey FOREIGN KEY (commercial_partner_id) REFERENCES res_partner(id) ON DELETE SET NULL;
ALTER TABLE res_users ADD CONSTRAINT res_users_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id);
ALTER TABLE res_users ADD CONSTRAINT res_users_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES res_partner(id) ON DELETE RESTRICT;
ALTER TABLE product_category ADD CONSTRAINT product_category_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES product_category(id) ON DELETE CASCADE;
ALTER TABLE product_template ADD CONSTRAINT product_template_categ_id_fkey FOREIGN KEY (categ_id) REFERENCES product_category(id);
ALTER TABLE product_template ADD CONSTRAINT product_template_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id);
ALTER TABLE product_product ADD CONSTRAINT product_product_product_tmpl_id_fkey FOREIGN KEY (product_tmpl_id) REFERENCES product_template(id) ON DELETE CASCADE;
ALTER TABLE sale_order ADD CONSTRAINT sale_order_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id);
ALTER TABLE sale_order ADD CONSTRAINT sale_order_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES res_partner(id) ON DELETE RESTRICT;
ALTER TABLE sale_order ADD CONSTRAINT sale_order_partner_invoice_id_fkey FOREIGN KEY (partner_invoice_id) REFERENCES res_partner(id) ON DELETE RESTRICT;
ALTER TABLE sale_order ADD CONSTRAINT sale_order_partner_shipping_id_fkey FOREIGN KEY (partner_shipping_id) REFERENCES res_partner(id) ON DELETE RESTRICT;
ALTER TABLE sale_order ADD CONSTRAINT sale_order_currency_id_fkey FOREIGN KEY (currency_id) REFERENCES res_currency(id);
ALTER TABLE sale_order ADD CONSTRAINT sale_order_user_id_fkey FOREIGN KEY (user_id) REFERENCES res_users(id) ON DELETE SET NULL;
ALTER TABLE sale_order_line ADD CONSTRAINT sale_order_line_order_id_fkey FOREIGN KEY (order_id) REFERENCES sale_order(id) ON DELETE CASCADE;
ALTER TABLE sale_order_line ADD CONSTRAINT sale_order_line_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id);
ALTER TABLE sale_order_line ADD CONSTRAINT sale_order_line_currency_id_fkey FOREIGN KEY (currency_id) REFERENCES res_currency(id);
ALTER TABLE sale_order_line ADD CONSTRAINT sale_order_line_order_partner_id_fkey FOREIGN KEY (order_partner_id) REFERENCES res_partner(id);
ALTER TABLE sale_order_line ADD CONSTRAINT sale_order_line_salesman_id_fkey FOREIGN KEY (salesman_id) REFERENCES res_users(id);
ALTER TABLE sale_order_line ADD CONSTRAINT sale_order_line_product_id_fkey FOREIGN KEY (product_id) REFERENCES product_product(id) ON DELETE RESTRICT;
ALTER TABLE account_account ADD CONSTRAINT account_account_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id);
ALTER TABLE account_journal ADD CONSTRAINT account_journal_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id);
ALTER TABLE account_journal ADD CONSTRAINT account_journal_default_account_id_fkey FOREIGN KEY (default_account_id) REFERENCES account_account(id);
ALTER TABLE account_move ADD CONSTRAINT account_move_journal_id_fkey FOREIGN KEY (journal_id) REFERENCES account_journal(id);
ALTER TABLE account_move ADD CONSTRAINT account_move_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id);
ALTER TABLE account_move ADD CONSTRAINT account_move_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES res_partner(id) ON DELETE RESTRICT;
ALTER TABLE account_move ADD CONSTRAINT account_move_commercial_partner_id_fkey FOREIGN KEY (commercial_partner_id) REFERENCES res_partner(id);
ALTER TABLE account_move ADD CONSTRAINT account_move_partner_shipping_id_fkey FOREIGN KEY (partner_shipping_id) REFERENCES res_partner(id);
ALTER TABLE account_move ADD CONSTRAINT account_move_currency_id_fkey FOREIGN KEY (currency_id) REFERENCES res_currency(id);
ALTER TABLE account_move ADD CONSTRAINT account_move_reversed_entry_id_fkey FOREIGN KEY (reversed_entry_id) REFERENCES account_move(id) ON DELETE SET NULL;
ALTER TABLE account_move ADD CONSTRAINT account_move_invoice_user_id_fkey FOREIGN KEY (invoice_user_id) REFERENCES res_users(id);
ALTER TABLE account_move_line ADD CONSTRAINT account_move_line_move_id_fkey FOREIGN KEY (move_id) REFERENCES account_move(id) ON DELETE CASCADE;
ALTER TABLE account_move_line ADD CONSTRAINT account_move_line_journal_id_fkey FOREIGN KEY (journal_id) REFERENCES account_journal(id);
ALTER TABLE account_move_line ADD CONSTRAINT account_move_line_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id);
ALTER TABLE account_move_line ADD CONSTRAINT account_move_line_company_currency_id_fkey FOREIGN KEY (company_currency_id) REFERENCES res_currency(id);
ALTER TABLE account_move_line ADD CONSTRAINT account_move_line_account_id_fkey FOREIGN KEY (account_id) REFERENCES account_account(id);
ALTER TABLE account_move_line ADD CONSTRAINT account_move_line_currency_id_fkey FOREIGN KEY (currency_id) REFERENCES res_currency(id);
ALTER TABLE account_move_line ADD CONSTRAINT account_move_line_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES res_partner(id) ON DELETE RESTRICT;
ALTER TABLE account_move_line ADD CONSTRAINT account_move_line_product_id_fkey FOREIGN KEY (product_id) REFERENCES product_product(id) ON DELETE RESTRICT;
ALTER TABLE mail_message ADD CONSTRAINT mail_message_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES mail_message(id) ON DELETE SET NULL;
ALTER TABLE mail_message ADD CONSTRAINT mail_message_author_id_fkey FOREIGN KEY (author_id) REFERENCES res_partner(id) ON DELETE SET NULL;
ALTER TABLE mail_tracking_value ADD CONSTRAINT mail_tracking_value_mail_message_id_fkey FOREIGN KEY (mail_message_id) REFERENCES mail_message(id) ON DELETE CASCADE;
ALTER TABLE ir_attachment ADD CONSTRAINT ir_attachment_company_id_fkey FOREIGN KEY (company_id) REFERENCES res_company(id) ON DELETE SET NULL;
ALTER TABLE ir_cron ADD CONSTRAINT ir_cron_user_id_fkey FOREIGN KEY (user_id) REFERENCES res_users(id);
ALTER TABLE res_partner ADD CONSTRAINT res_partner_user_id_fkey FOREIGN KEY (user_id) REFERENCES res_users ON DELETE SET NULL;
ALTER TABLE res_company ADD CONSTRAINT res_company_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES res_partner ON DELETE RESTRICT;

COMMENT ON TABLE res_partner IS 'Contact';
COMMENT ON TABLE sale_order IS 'Sales Order';
COMMENT ON TABLE account_move IS 'Journal Entry';
COMMENT ON TABLE mail_message IS 'Message';
COMMENT ON TABLE ir_attachment IS 'Attachment';

\if :vacuum
VACUUM (FREEZE, ANALYZE);
\else
ANALYZE;
\endif
