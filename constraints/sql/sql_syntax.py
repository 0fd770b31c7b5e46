"""The syntax of the SELECT statements the SQL constraint accepts, as an LL(1) grammar (see ll1.py).

Token classes: ID a bare identifier that is not a keyword, QID a `` `...` `` or `[...]`
identifier, DQ a `"..."` token (an identifier, or a string when it names no column, as
sqlite reads it), STR a `'...'` string, NUM a number, BLOB an `X'..'` literal; keywords
are written in capitals, operators quoted. `@name` actions are the scope and semantic
checks of `sql_scope.py`; they see the token just read.

Expressions are flat (`operand (operator operand)*`): sqlite's precedence decides how an
expression groups, never whether it parses, except in two places written out below: the
operands of BETWEEN ... AND and of LIKE, which take only operators that bind tighter than
BETWEEN (as sqlite's parser does), and no leading NOT.
"""

SQL_GRAMMAR = r"""
start         : @begin select_body semi $
semi          : ';' |

select_body   : core compound_tail order_opt limit_opt
compound_tail : compound_op @compound core compound_tail |
compound_op   : UNION union_all | INTERSECT | EXCEPT
union_all     : ALL |
core          : SELECT @core quantifier result_list @list_end from_opt @from_end where_opt group_opt
quantifier    : DISTINCT | ALL |

result_list   : result_col result_more
result_more   : ',' @result_next result_col result_more |
result_col    : @item '*' @star
              | @item name @name_head rc_name
              | @item operand_nn expr_tail @item_end alias_opt
rc_name       : '.' @qualifier rc_dot
              | '(' @call call_inner ')' @call_end expr_tail @item_end alias_opt
              | @col expr_tail @item_end alias_opt
rc_dot        : '*' @qual_star
              | name @qcol expr_tail @item_end alias_opt
alias_opt     : AS as_alias @result_alias | ID @result_alias | QID @result_alias | DQ @result_alias
              | STR @result_alias |
name          : ID | QID | DQ

from_opt      : FROM @from from_list |
from_list     : table_item join_tail
table_item    : name @table table_alias @bind_table
              | '(' @sub_from select_body ')' @sub_end table_alias @bind_derived
table_alias   : AS tbl_alias @table_alias | ID @table_alias | QID @table_alias | DQ @table_alias
              | STR @table_alias |
tbl_alias     : ID | QID | DQ | STR
join_tail     : join_op table_item join_constraint join_tail |
join_op       : ',' @join | JOIN @join | INNER JOIN @join | CROSS JOIN @join
              | LEFT outer JOIN @join @join_left | RIGHT outer JOIN @join @join_right
              | FULL outer JOIN @join @join_right
              | NATURAL natural_kind JOIN @join_natural
outer         : OUTER |
natural_kind  : LEFT outer | RIGHT outer @join_right | FULL outer @join_right | INNER | CROSS |
join_constraint : ON @on expr @on_end
              | USING @using '(' name @using_column using_more ')' @using_end
              |
using_more    : ',' name @using_column using_more |

where_opt     : WHERE @where expr |
group_opt     : GROUP BY @group group_term group_more having_opt | having |
group_term    : @term expr @group_term_end
group_more    : ',' group_term group_more |
having_opt    : having |
having        : HAVING @having expr
order_opt     : ORDER BY @order order_term order_more |
order_term    : @term expr @order_term_end direction nulls
order_more    : ',' order_term order_more |
direction     : ASC | DESC |
nulls         : NULLS first_last |
first_last    : FIRST | LAST
limit_opt     : LIMIT @limit limit_value limit_more |
limit_more    : OFFSET limit_value | ',' limit_value |
limit_value   : NUM @limit_number | '-' NUM @limit_number | '+' NUM @limit_number

expr          : operand expr_tail
expr_tail     : binop operand expr_tail
              | NOT not_op expr_tail
              | LIKE like_rhs expr_tail
              | GLOB narrow expr_tail
              | IN in_rhs expr_tail
              | BETWEEN between_rhs expr_tail
              | IS is_rhs expr_tail
              | ISNULL expr_tail
              | NOTNULL expr_tail
              | COLLATE ID @collation expr_tail
              |
not_op        : LIKE like_rhs | GLOB narrow | IN in_rhs | BETWEEN between_rhs | NULL
binop         : '=' | '==' | '!=' | '<>' | AND | OR | tight
tight         : '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%' | '||' | '&' | '|' | '<<' | '>>'
like_rhs      : narrow escape
escape        : ESCAPE STR @escape |
between_rhs   : narrow AND narrow
narrow        : operand_nb narrow_tail
narrow_tail   : tight operand_nb narrow_tail | COLLATE ID @collation narrow_tail |
in_rhs        : '(' in_body
in_body       : @sub_in select_body ')' @sub_end
              | expr in_more ')'
              | ')'
in_more       : ',' expr in_more |
is_rhs        : NOT is_not | DISTINCT FROM operand | operand
is_not        : DISTINCT FROM operand | operand

operand       : name @name_head name_rest | operand_nn
operand_nb    : name @name_head name_rest | primary | '-' operand_nb | '+' operand_nb | '~' operand_nb
operand_nn    : primary | NOT operand | '-' operand | '+' operand | '~' operand
primary       : NUM | STR | BLOB | NULL | CURRENT_DATE | CURRENT_TIME | CURRENT_TIMESTAMP
              | '(' paren_rest
              | CAST '(' expr AS typename ')'
              | CASE case_body
              | EXISTS '(' @sub_exists select_body ')' @sub_end
              | REPLACE @replace '(' @call call_inner ')' @call_end
name_rest     : '.' @qualifier name @qcol | '(' @call call_inner ')' @call_end | @col
paren_rest    : @sub_scalar select_body ')' @sub_end | expr ')'
call_inner    : '*' @call_star | DISTINCT @call_distinct expr | @argument expr arguments |
arguments     : ',' @argument expr arguments |
case_body     : case_when case_more | expr case_when case_more
case_when     : WHEN expr THEN expr
case_more     : case_when case_more | ELSE expr END | END
typename      : type_word type_more |
type_more     : type_word type_more | '(' signed type_size ')' |
type_size     : ',' signed |
signed        : NUM | '-' NUM | '+' NUM
type_word     : ID | STR | DQ
"""

# Rules whose FIRST/FOLLOW overlap is resolved toward the longer reading: the tail of a
# BETWEEN/LIKE operand takes tighter operators that the enclosing expression would take
# anyway, and `IS NOT x` is read as the IS NOT operator, as `IS (NOT x)` would also parse.
GREEDY = frozenset({"narrow_tail", "is_rhs"})
