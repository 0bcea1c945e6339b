/**
 * Names under which strangers own the subdomains, so that a wildcard origin over
 * one (https://*.com, https://*.github.io) allows every site there. Not the whole
 * Public Suffix List, which has thousands of entries, changes weekly and would ship
 * in every function and the edge bundle: every single label (com, uk, dev) is one
 * by rule, and these are the multi-label suffixes a wildcard is most likely to be
 * written over by mistake: countries' second levels and hosting platforms.
 */
const MULTI_LABEL_SUFFIXES: ReadonlySet<string> = new Set(
  [
    // Countries' second levels.
    "co.uk org.uk me.uk ltd.uk plc.uk net.uk ac.uk gov.uk sch.uk nhs.uk police.uk",
    "com.au net.au org.au edu.au gov.au id.au asn.au co.nz net.nz org.nz ac.nz govt.nz geek.nz school.nz",
    "co.jp ne.jp or.jp ac.jp go.jp gr.jp ad.jp ed.jp lg.jp co.kr or.kr ne.kr go.kr ac.kr re.kr",
    "com.cn net.cn org.cn gov.cn edu.cn com.hk net.hk org.hk edu.hk gov.hk com.tw net.tw org.tw edu.tw gov.tw",
    "com.sg net.sg org.sg edu.sg gov.sg com.my net.my org.my co.id or.id web.id ac.id go.id my.id",
    "co.th in.th ac.th go.th or.th com.ph net.ph org.ph com.vn net.vn com.pk com.bd com.np com.lk",
    "co.in net.in org.in firm.in gen.in ind.in ac.in gov.in co.il org.il ac.il gov.il net.il",
    "com.tr net.tr org.tr gov.tr com.sa com.eg co.ke or.ke com.ng co.za org.za web.za gov.za net.za",
    "com.br net.br org.br gov.br blog.br com.mx org.mx gob.mx net.mx com.ar net.ar org.ar gob.ar com.co net.co",
    "com.pe com.ve com.ec com.uy com.py com.bo com.ua net.ua org.ua com.pl net.pl org.pl com.ru net.ru org.ru",
    "co.at or.at ac.at gv.at com.es org.es com.pt com.gr com.cy com.mt eu.org us.org",
    // Hosting platforms that give each customer a subdomain.
    "github.io githubusercontent.com app.github.dev gitlab.io bitbucket.io readthedocs.io",
    "netlify.app vercel.app now.sh pages.dev workers.dev r2.dev trycloudflare.com",
    "herokuapp.com fly.dev onrender.com railway.app up.railway.app deno.dev deno.net",
    "web.app firebaseapp.com appspot.com cloudfunctions.net run.app",
    "azurewebsites.net azurestaticapps.net cloudapp.net azureedge.net blob.core.windows.net",
    "cloudfront.net amplifyapp.com s3.amazonaws.com elasticbeanstalk.com awsapprunner.com",
    "blogspot.com glitch.me surge.sh ngrok.io ngrok.app ngrok-free.app ngrok.dev loca.lt",
    "repl.co replit.dev replit.app codesandbox.io csb.app stackblitz.io webcontainer.io gitpod.io",
    "pythonanywhere.com wixsite.com myshopify.com webflow.io framer.app framer.website",
  ]
    .join(" ")
    .split(" "),
);

/** True when `host` (lower case, no port) is a public suffix, so a wildcard over it would reach strangers. */
export function isPublicSuffix(host: string): boolean {
  // localhost is one label but nobody else's: *.localhost reaches this machine only.
  if (!host.includes(".")) return host !== "localhost";
  return MULTI_LABEL_SUFFIXES.has(host);
}
